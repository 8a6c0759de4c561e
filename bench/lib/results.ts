/**
 * bench/RESULTS.md: one table per scenario; every run appends one row to each
 * scenario it ran (date, commit, machine, load, command, persistence, figures)
 * and one row to the runs table. The analysis at the end is written by hand.
 */
import fs from 'node:fs';

export interface RunMeta {
  date: string;
  commit: string;
  command: string;
  machine: string;
  persistence: string;
  /** Load averages (1, 5, 15 min) at the start and the end of the run. */
  loadStart: number[];
  loadEnd?: number[];
}

const SECTIONS: Record<string, string> = {
  runs: 'Runs',
  claim_storm: '1. Claim storm (K simultaneous claims through the REST API)',
  floor: '2. The floor (the same claim as database transactions only)',
  feed_latency: '3. Feed latency (intake → `offer.opened` at each connected buyer)',
  throughput: '4. Throughput (end to end, rising rates until saturation)',
  scale: '5. Scale (many offers open at once)',
  engine_floor: "6. Engine floor (the engine's least workflow at rising rates; Leadwire's throughput as a ratio to it)",
  storm_many: '7. Storm over many offers (B buyers each claiming O open offers at once)',
  supply: '8. Supply side (ping latency with 50 concurrent pings; reports over seeded leads)',
  feed_flood:
    "9. Feed flood (another client's wallet GET p99 while one socket floods the feed, against idle; target ≤ 2×)",
  ping_tree:
    '10. Ping tree (50 endpoint buyers answering in 20–200 ms; intake → post sent, overhead above the slowest counted pings; target overhead p99 ≤ 50 ms at 5 leads/s)',
  intake_checks:
    "11. Intake checks (intake's 202 with the suppression lists empty, then full; target added p99 ≤ 5 ms)",
  suppression_csv: '12. Suppression CSV import (lines per second; target a million in under a minute)',
  ping_suppression:
    '13. Ping with suppression lists (ping p99 with 50 concurrent and 10 million hashes listed; target ≤ 50 ms)',
};

const TEMPLATE = `# Benchmark results

Written by \`npm run bench\` (bench/run.ts): each run appends a row to the table of every scenario it ran.
\`npm run bench:ci\` runs the same scenarios at a tiny size without recording. What each scenario does,
how the stack is set up and how to read the numbers: bench/README.md. The analysis at the end is by hand.

${Object.entries(SECTIONS)
  .map(
    ([key, title]) =>
      `## ${title}\n\n` +
      (key === 'runs'
        ? '| date | commit | command | machine | load avg 1/5/15 min, start → end | Temporal dev server persistence |\n| --- | --- | --- | --- | --- | --- |\n'
        : '| date | commit | load avg at start | figures |\n| --- | --- | --- | --- |\n') +
      `<!-- rows:${key} -->\n`,
  )
  .join('\n')}
## Analysis

(by hand, after a full run)
`;

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '<br>');

function insertRow(text: string, key: string, row: string): string {
  const marker = `<!-- rows:${key} -->`;
  if (!text.includes(marker)) {
    const header = key === 'runs' ? '' : '| date | commit | load avg at start | figures |\n| --- | --- | --- | --- |\n';
    return `${text.trimEnd()}\n\n## ${SECTIONS[key] ?? key}\n\n${header}${row}\n${marker}\n`;
  }
  return text.replace(marker, `${row}\n${marker}`);
}

/** A run whose 1-minute load average at start is above this was not on a quiet machine, and its rows say so. */
const QUIET_LOAD = 1.0;

export function recordRun(file: string, meta: RunMeta, rows: { scenario: string; headline: string }[]): void {
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : TEMPLATE;
  const notQuiet = (meta.loadStart[0] ?? 0) > QUIET_LOAD ? ` (NOT quiet: above ${QUIET_LOAD.toFixed(1)} at start)` : '';
  const load = `${meta.loadStart.join(' / ')}${notQuiet}${meta.loadEnd ? ` → ${meta.loadEnd.join(' / ')}` : ''}`;
  text = insertRow(
    text,
    'runs',
    `| ${meta.date} | ${meta.commit} | \`${cell(meta.command)}\` | ${cell(meta.machine)} | ${load} | ${cell(meta.persistence)} |`,
  );
  for (const r of rows)
    text = insertRow(
      text,
      r.scenario,
      `| ${meta.date} | ${meta.commit} | ${meta.loadStart.join(' / ')}${notQuiet} | ${cell(r.headline)} |`,
    );
  fs.writeFileSync(file, text);
}
