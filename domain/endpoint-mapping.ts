/**
 * A buyer endpoint's mapping and rules, as data (#22):
 *
 * - the **request template** is a JSON object in the buyer's names whose
 *   strings may hold placeholders: `{"zip_code": "{{zip}}", "roof_age":
 *   "{{answers.roof_age|number}}"}`. A string that is exactly one placeholder
 *   becomes the value itself (a number stays a number; a missing value drops
 *   the key); inside longer text it is interpolated. Filters: `upper`,
 *   `lower`, `digits`, `number`. A form-encoded template is flat.
 * - a **ping** reads only what a ping may carry (domain/ping.ts PING_FIELDS:
 *   the non-identifying fields, through preview.ts's allow-list) – a template
 *   that reads a hidden field into a ping is refused, and the ping is rendered
 *   from the lead's ping preview besides, so nothing else can reach it;
 *   a **post** reads every field plus `leadId`, `pingId` (the buyer's, from its
 *   ping answer) and `bid`; a **status query** (#22 item 4) reads only the
 *   post's `idempotencyKey`, `leadId` and `pingId`.
 * - the **response rules** read an answer: the HTTP statuses that may accept,
 *   whether it accepts (a JSON path, or a JSONata expression through the
 *   maintained `jsonata` package), and where the bid, the ping id and the
 *   refusal's reason are.
 *
 * Checking either answers issues that name the field and the character
 * position of the error, which the API returns as a 400.
 */
import jsonata from 'jsonata';

import { type EndpointStep, MAX_ANSWER_BYTES } from './endpoints';
import { PING_FIELDS } from './ping';
import { isPreviewableField, previewOf } from './preview';
import type { LeadFields } from './types';

/** A request template: the buyer's names → text with placeholders, or nested objects and arrays of them (JSON). */
export type EndpointTemplate = Record<string, unknown>;

/** A value of the answer: a JSON path (`result.price`, `$.offers[0].id`) or a JSONata expression. */
type AnswerValue = { path: string } | { jsonata: string };

export interface ResponseRules {
  /** The HTTP statuses that may accept; any other is a refusal (a 5xx: an error). Default 200–299. */
  acceptStatuses?: number[];
  /** Whether the answer accepts: a path's value (equal to `equals`, else truthy), or an expression. Absent: the status decides. */
  accepted?: { path: string; equals?: string | number | boolean } | { jsonata: string };
  /** A ping's bid in credits (required in ping rules). */
  bid?: AnswerValue;
  /** The buyer's ping id, echoed in the post as `{{pingId}}`. */
  pingId?: AnswerValue;
  /** The buyer's reason for a refusal. */
  reason?: AnswerValue;
}

/** One thing wrong with a template or rules: where (a dotted path under the checked field) and at which character. */
export interface MappingIssue {
  path: string;
  message: string;
  /** 0-based character position in the string at `path`. */
  position: number;
}

const FILTERS = ['upper', 'lower', 'digits', 'number'] as const;
type Filter = (typeof FILTERS)[number];
/** Values of the post beside the lead's fields. */
const POST_VALUES = ['leadId', 'pingId', 'bid'] as const;
/** What a status query may read (#22 item 4): the post it asks about, never the lead's fields. */
const STATUS_VALUES = ['idempotencyKey', 'leadId', 'pingId'] as const;
const MAX_DEPTH = 8;

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const PING_TOP = new Set<string>(PING_FIELDS);

/** Whether a ping may read `name`: a non-identifying field, or one answer. */
function pingMayRead(name: string): boolean {
  return PING_TOP.has(name) || (name.startsWith('answers.') && name.length > 'answers.'.length);
}

interface Placeholder {
  name: string;
  filters: Filter[];
}

/** One placeholder's inside (`answers.roof_age|number`): its reference and filters, or the issue with its offset. */
function readPlaceholder(inner: string, step: EndpointStep): { ok: Placeholder } | { error: string; offset: number } {
  const parts = inner.split('|');
  const raw = parts[0]!;
  const name = raw.trim();
  const lead = raw.length - raw.trimStart().length;
  if (!name) return { error: 'an empty placeholder: name a lead field, e.g. {{zip}}', offset: 0 };
  if (step === 'status' && !(STATUS_VALUES as readonly string[]).includes(name))
    return {
      error: `a status query may read only ${STATUS_VALUES.join(', ')}, not "${name}"`,
      offset: lead,
    };
  const known = step === 'status' || isPreviewableField(name) || (POST_VALUES as readonly string[]).includes(name);
  if (!known) return { error: `unknown field "${name}"`, offset: lead };
  if (step === 'ping' && !pingMayRead(name))
    return {
      error: `a ping may not read "${name}": a ping carries only ${PING_FIELDS.join(', ')} (answers.<question>); the rest is hidden until the post`,
      offset: lead,
    };
  const filters: Filter[] = [];
  let at = raw.length + 1;
  for (const f of parts.slice(1)) {
    const fname = f.trim();
    if (!(FILTERS as readonly string[]).includes(fname))
      return {
        error: `unknown filter "${fname}" (filters: ${FILTERS.join(', ')})`,
        offset: at + (f.length - f.trimStart().length),
      };
    filters.push(fname as Filter);
    at += f.length + 1;
  }
  return { ok: { name, filters } };
}

/** The issues of one template string (offsets are positions in it). */
function stringIssues(text: string, step: EndpointStep, path: string): MappingIssue[] {
  const out: MappingIssue[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const read = readPlaceholder(m[1]!, step);
    if ('error' in read) out.push({ path, message: read.error, position: m.index + 2 + read.offset });
  }
  const opened = text.replace(PLACEHOLDER, (m) => ' '.repeat(m.length)).indexOf('{{');
  if (opened >= 0) out.push({ path, message: 'a placeholder opened with {{ is not closed with }}', position: opened });
  return out;
}

/**
 * Every issue of a template for a step: placeholders naming unknown fields or
 * filters, a ping reading a field it may not, unclosed braces, a form
 * template that is not flat, values that are neither text nor plain JSON.
 */
export function templateIssues(
  template: EndpointTemplate,
  step: EndpointStep,
  format: 'json' | 'form',
): MappingIssue[] {
  const out: MappingIssue[] = [];
  const walk = (value: unknown, path: string, depth: number): void => {
    if (typeof value === 'string') out.push(...stringIssues(value, step, path));
    else if (value === null || typeof value === 'number' || typeof value === 'boolean') return;
    else if (depth >= MAX_DEPTH) out.push({ path, message: `nested deeper than ${MAX_DEPTH}`, position: 0 });
    else if (format === 'form')
      out.push({ path, message: 'a form-encoded template is flat: text, numbers or booleans only', position: 0 });
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}.${i}`, depth + 1));
    else if (typeof value === 'object')
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, `${path}.${k}`, depth + 1);
  };
  for (const [k, v] of Object.entries(template)) walk(v, k, 1);
  return out;
}

/** What a template is rendered with. A ping gets only the lead's fields (and reads only its ping preview). */
export interface RenderValues {
  fields: LeadFields;
  leadId?: string;
  /** The post's key: what a status query asks about. */
  idempotencyKey?: string;
  pingId?: string | null;
  bid?: number | null;
}

function lookup(name: string, values: RenderValues, fields: Record<string, unknown>): unknown {
  if (name === 'leadId') return values.leadId;
  if (name === 'idempotencyKey') return values.idempotencyKey;
  if (name === 'pingId') return values.pingId ?? undefined;
  if (name === 'bid') return values.bid ?? undefined;
  if (name.startsWith('answers.')) return (fields.answers as Record<string, unknown> | undefined)?.[name.slice(8)];
  return Object.prototype.hasOwnProperty.call(fields, name) ? fields[name] : undefined;
}

function applyFilters(value: unknown, filters: Filter[]): unknown {
  let v = value;
  for (const f of filters) {
    if (v === undefined || v === null) return v;
    if (f === 'upper') v = String(v).toUpperCase();
    else if (f === 'lower') v = String(v).toLowerCase();
    else if (f === 'digits') v = String(v).replace(/\D/g, '');
    else {
      const n = Number(v);
      v = Number.isFinite(n) ? n : null;
    }
  }
  return v;
}

/**
 * The template's value for a step: placeholders filled. A ping reads the
 * lead's ping preview only (allow-listed by preview.ts), whatever the
 * template says. Assumes a template without issues (unknown ones stay empty).
 */
export function renderTemplate(
  template: EndpointTemplate,
  step: EndpointStep,
  values: RenderValues,
): Record<string, unknown> {
  // A status query reads no field of the lead (readPlaceholder refuses them): it is rendered from none.
  const fields = (step === 'ping'
    ? previewOf(values.fields, PING_FIELDS)
    : step === 'status'
      ? {}
      : values.fields) as unknown as Record<string, unknown>;
  const one = (inner: string): unknown => {
    const read = readPlaceholder(inner, step);
    return 'ok' in read ? applyFilters(lookup(read.ok.name, values, fields), read.ok.filters) : undefined;
  };
  const fill = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const whole = /^\{\{([^{}]*)\}\}$/.exec(value);
      if (whole) return one(whole[1]!);
      return value.replace(PLACEHOLDER, (_m, inner: string) => {
        const v = one(inner);
        return v === undefined || v === null ? '' : String(v);
      });
    }
    if (Array.isArray(value)) return value.map(fill).filter((v) => v !== undefined);
    if (value && typeof value === 'object') return fillObject(value as Record<string, unknown>);
    return value;
  };
  const fillObject = (o: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const filled = fill(v);
      if (filled !== undefined)
        Object.defineProperty(out, k, { value: filled, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  return fillObject(template);
}

/** The body a rendered template is sent as, and its content type. */
export function encodeBody(
  rendered: Record<string, unknown>,
  format: 'json' | 'form',
): { body: string; contentType: string } {
  if (format === 'json') return { body: JSON.stringify(rendered), contentType: 'application/json' };
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(rendered)) form.append(k, v === null ? '' : String(v));
  return { body: form.toString(), contentType: 'application/x-www-form-urlencoded' };
}

// ─── response rules ──────────────────────────────────────────────────────────

/** `result.price`, `$.offers[0].id`: names (letters, digits, `_`, `-`) and array indexes. */
const PATH_SEGMENT = /^(?:[A-Za-z_][\w-]*|\[\d+\])/;

/** A JSON path's segments, or the position of its first bad character. */
function parsePath(path: string): { segments: (string | number)[] } | { position: number; message: string } {
  let rest = path;
  let at = 0;
  if (rest.startsWith('$')) {
    rest = rest.slice(1);
    at = 1;
    if (rest === '') return { segments: [] };
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      at = 2;
    } else if (!rest.startsWith('[')) return { position: at, message: 'expected "." or "[" after "$"' };
  }
  const segments: (string | number)[] = [];
  while (rest.length > 0) {
    const m = PATH_SEGMENT.exec(rest);
    if (!m) return { position: at, message: 'expected a name or an [index]' };
    segments.push(m[0].startsWith('[') ? Number(m[0].slice(1, -1)) : m[0]);
    rest = rest.slice(m[0].length);
    at += m[0].length;
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      at += 1;
      if (rest === '') return { position: at, message: 'a path may not end with "."' };
    } else if (rest.length > 0 && !rest.startsWith('['))
      return { position: at, message: 'expected "." or "[" between names' };
  }
  return { segments };
}

const JSONATA_LIMITS = { timeout: 100, stack: 200 } as const;

function compile(expression: string): jsonata.Expression {
  return jsonata(expression, JSONATA_LIMITS as jsonata.JsonataOptions);
}

function valueIssues(rule: unknown, path: string): MappingIssue[] {
  if (!rule || typeof rule !== 'object') return [];
  if ('path' in rule && typeof rule.path === 'string') {
    const parsed = parsePath(rule.path);
    return 'position' in parsed ? [{ path: `${path}.path`, message: parsed.message, position: parsed.position }] : [];
  }
  if ('jsonata' in rule && typeof rule.jsonata === 'string') {
    try {
      compile(rule.jsonata);
      return [];
    } catch (err) {
      const e = err as { message?: string; position?: number };
      // jsonata's position is just past the offending token; point at its start.
      const position = Math.max(0, Math.min(rule.jsonata.length, (e.position ?? 1) - 1));
      return [{ path: `${path}.jsonata`, message: `JSONata: ${e.message ?? String(err)}`, position }];
    }
  }
  return [];
}

/** Every issue of a set of rules for a step (ping rules must say where the bid is). */
export function rulesIssues(rules: ResponseRules, step: EndpointStep): MappingIssue[] {
  const out = [
    ...valueIssues(rules.accepted, 'accepted'),
    ...valueIssues(rules.bid, 'bid'),
    ...valueIssues(rules.pingId, 'pingId'),
    ...valueIssues(rules.reason, 'reason'),
  ];
  if (step === 'ping' && !rules.bid)
    out.push({ path: 'bid', message: 'ping rules say where the bid is (a path or a JSONata expression)', position: 0 });
  return out;
}

/** The rules' reading of an answer. */
export type ReadAnswer =
  | { outcome: 'accepted'; bid: number | null; pingId: string | null }
  | { outcome: 'rejected'; reason: string }
  | { outcome: 'error' | 'malformed'; reason: string };

function atPath(value: unknown, segments: (string | number)[]): unknown {
  let v = value;
  for (const s of segments) {
    if (v === null || typeof v !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(v, s)) return undefined;
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}

async function valueOf(rule: AnswerValue | undefined, body: unknown, status: number): Promise<unknown> {
  if (!rule) return undefined;
  if ('path' in rule) {
    const parsed = parsePath(rule.path);
    return 'segments' in parsed ? atPath(body, parsed.segments) : undefined;
  }
  return (await compile(rule.jsonata).evaluate(body, { status })) as unknown;
}

const text = (v: unknown): string | null =>
  v === undefined || v === null || v === '' ? null : typeof v === 'string' ? v : JSON.stringify(v);

/**
 * Reads an answer with the rules: a status outside `acceptStatuses` is a
 * refusal (a 5xx an error); then whether it accepts, and the bid, ping id and
 * reason. A ping accepted without a readable bid (a non-negative number; credits
 * are whole, so it is rounded down) is `malformed`; so is a body the rules
 * need as JSON that is not.
 */
export async function readAnswer(
  rules: ResponseRules,
  step: EndpointStep,
  answer: { status: number; body: string },
): Promise<ReadAnswer> {
  const { status } = answer;
  let body: unknown = answer.body;
  let json = true;
  try {
    body = answer.body.length > 0 ? (JSON.parse(answer.body.slice(0, MAX_ANSWER_BYTES)) as unknown) : null;
  } catch {
    json = false;
  }
  try {
    const statusOk = rules.acceptStatuses ? rules.acceptStatuses.includes(status) : status >= 200 && status < 300;
    if (!statusOk) {
      if (status >= 500) return { outcome: 'error', reason: `HTTP ${status}` };
      const reason = json ? text(await valueOf(rules.reason, body, status)) : null;
      return { outcome: 'rejected', reason: reason ?? `HTTP ${status}` };
    }
    const needsJson = !!(rules.accepted || rules.bid || rules.pingId);
    if (needsJson && !json) return { outcome: 'malformed', reason: 'the answer is not JSON' };
    let accepted = true;
    if (rules.accepted) {
      const v =
        'path' in rules.accepted
          ? await valueOf({ path: rules.accepted.path }, body, status)
          : await valueOf(rules.accepted, body, status);
      accepted = 'equals' in rules.accepted && rules.accepted.equals !== undefined ? v === rules.accepted.equals : !!v;
    }
    if (!accepted)
      return { outcome: 'rejected', reason: text(await valueOf(rules.reason, body, status)) ?? 'rejected' };
    const pingId = text(await valueOf(rules.pingId, body, status));
    if (step !== 'ping') return { outcome: 'accepted', bid: null, pingId };
    const raw = await valueOf(rules.bid, body, status);
    const bid = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof bid !== 'number' || !Number.isFinite(bid) || bid < 0)
      return { outcome: 'malformed', reason: `accepted without a readable bid (${text(raw) ?? 'none'})` };
    return { outcome: 'accepted', bid: Math.floor(bid), pingId };
  } catch (err) {
    return { outcome: 'malformed', reason: `the rules could not read the answer: ${(err as Error).message}` };
  }
}

/** A lead to try an endpoint with (the console's "test endpoint" when no fields are given). */
export const SAMPLE_LEAD: LeadFields = {
  firstName: 'Sam',
  lastName: 'Sample',
  phone: '+12025550143',
  email: 'sam.sample@example.com',
  address: '1 Sample Street',
  city: 'Austin',
  state: 'TX',
  zip: '78701',
  answers: { roof_age: 15, homeowner: true },
};
