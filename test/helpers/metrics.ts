import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** A sample's value in a Prometheus text exposition (the first line of `name` carrying every label given). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Record<string, string[]> = {
  counter: ['_total'],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * What is wrong with a Prometheus text exposition as Prometheus and OpenMetrics read it: malformed text (the
 * maintained parser parse-prometheus-text-format fails), a family declared twice, an invalid metric or label
 * name, a counter without `_total` or another type with it (a count exported as a gauge), a sample that does not
 * belong to the family declared above it (a type mismatch), and two families whose OpenMetrics names collide
 * (a counter `x_total` is the family `x`; a histogram `x` owns `x_bucket`, `x_sum`, `x_count`). Empty: none.
 */
export function expositionProblems(text: string): string[] {
  const problems: string[] = [];
  try {
    parsePrometheusTextFormat(text);
  } catch (err) {
    problems.push(`the parser refuses the text: ${(err as Error).message}`);
  }
  const types = new Map<string, string>();
  let family: { name: string; type: string } | null = null;
  for (const line of text.split('\n')) {
    const declared = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (declared) {
      const [, name, type] = declared as unknown as [string, string, string];
      if (types.has(name)) problems.push(`${name}: declared twice`);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type))
        problems.push(`${name}: unknown type ${type}`);
      types.set(name, type);
      family = { name, type };
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([^{\s]+)(?:\{(.*)\})? \S+( \d+)?$/.exec(line);
    if (!sample) {
      problems.push(`not a sample line: ${line}`);
      continue;
    }
    const [, name, labels] = sample as unknown as [string, string, string | undefined];
    if (!family) {
      problems.push(`${name}: a sample without a declared family (untyped)`);
      continue;
    }
    const allowed = (SUFFIXES[family.type] ?? ['']).map((s) =>
      family!.type === 'counter' ? family!.name : family!.name + s,
    );
    if (!allowed.includes(name)) problems.push(`${name}: a sample under the ${family.type} ${family.name}`);
    for (const pair of (labels ?? '').match(/([^=,\s]+)="(?:[^"\\]|\\.)*"/g) ?? []) {
      const label = pair.slice(0, pair.indexOf('='));
      if (!LABEL_NAME.test(label) || label.startsWith('__')) problems.push(`${name}: invalid label name ${label}`);
    }
  }
  const owners = new Map<string, string>();
  for (const [name, type] of types) {
    if (!METRIC_NAME.test(name)) problems.push(`${name}: invalid metric name`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter without _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: a ${type} named like a counter`);
    // The OpenMetrics family name and the sample names it owns.
    const base = type === 'counter' ? name.replace(/_total$/, '') : name;
    const owned = [
      base,
      ...(type === 'counter' ? ['_total', '_created'] : (SUFFIXES[type] ?? [])).map((s) => base + s),
    ];
    for (const n of new Set(owned)) {
      const other = owners.get(n);
      if (other && other !== name) problems.push(`${name} and ${other} collide on ${n}`);
      owners.set(n, name);
    }
  }
  return problems;
}
