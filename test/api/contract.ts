/**
 * The guard that cannot drift: every answer an API test receives is checked
 * against the OpenAPI document the app serves – the status is one the
 * operation declares, the media type one of its content types, a JSON body
 * valid against its schema (JSON Schema 2020-12, `additionalProperties` as the
 * document says), a body only where one is declared, and the headers the
 * document marks required present and well formed. It is driven by the
 * document alone (no route is named here), so a route added tomorrow is
 * checked by every test that calls it.
 *
 * The harness wraps each API instance's request listener with `guardResponses`:
 * the answer is read as the server writes it, whichever client sent the
 * request (supertest, the typed client, fetch). Violations are collected and
 * fail the test that was running (`afterEach` in test/api/harness.ts).
 */
import type http from 'node:http';

import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

interface HeaderDoc {
  required?: boolean;
  schema?: Json;
}

interface Operation {
  method: string;
  template: string;
  pointer: string;
  responses: Record<string, { headers?: Record<string, Json>; content?: Record<string, { schema?: Json }> }>;
}

interface PathMatcher {
  template: string;
  regex: RegExp;
  /** Fewer parameters first: `/v1/payments/settings` before `/v1/payments/{id}` (Express's order). */
  params: number;
}

/** One answer as the server wrote it. */
export interface Answer {
  method: string;
  path: string;
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

const DEFS_ID = 'https://leadwire.invalid/components.json';
const REF_PREFIX = '#/components/schemas/';

/** A copy of a document schema whose component references point into the `$defs` schema. */
function relink<T>(schema: T): T {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) =>
      key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)
        ? `${DEFS_ID}#/$defs/${value.slice(REF_PREFIX.length)}`
        : value,
    ),
  ) as T;
}

/** The value at a JSON pointer (`#/a/b~1c`). */
function at(root: unknown, pointer: string): unknown {
  return pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], root);
}
const pointerSegment = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const mediaBase = (contentType: string) => contentType.split(';')[0]!.trim().toLowerCase();

export class ContractGuard {
  private readonly ajv: Ajv2020;
  private readonly matchers: PathMatcher[];
  private readonly operations = new Map<string, Operation>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly doc: Json) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true, inlineRefs: false });
    addFormats(this.ajv);
    // The components as one schema of `$defs` (each compiled once, however many answers use it); an answer's
    // schema is compiled with its references pointed there.
    const components = ((doc.components as Json | undefined)?.schemas ?? {}) as Json;
    this.ajv.addSchema({ $id: DEFS_ID, $defs: relink(components) });
    const paths = doc.paths as Record<string, Record<string, Json>>;
    this.matchers = Object.keys(paths)
      .map((template) => ({
        template,
        regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
        params: (template.match(/\{/g) ?? []).length,
      }))
      .sort((a, b) => a.params - b.params);
    for (const [template, ops] of Object.entries(paths))
      for (const [method, op] of Object.entries(ops))
        this.operations.set(`${method} ${template}`, {
          method,
          template,
          pointer: `#/paths/${pointerSegment(template)}/${method}`,
          responses: op.responses as Operation['responses'],
        });
  }

  /** The operation a request reaches, as Express routes it: the most literal path that has the method. */
  operationOf(method: string, path: string): Operation | undefined {
    const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    for (const { template, regex } of this.matchers) {
      if (!regex.test(path)) continue;
      const op = this.operations.get(`${m} ${template}`);
      if (op) return op;
    }
    return undefined;
  }

  private validator(ref: string): ValidateFunction {
    let v = this.validators.get(ref);
    if (!v) {
      const schema = at(this.doc, ref.startsWith('#') ? ref : `#${ref}`);
      if (!schema || typeof schema !== 'object') throw new Error(`no schema at ${ref}`);
      v = this.ajv.compile(relink(schema as Json));
      this.validators.set(ref, v);
    }
    return v;
  }

  /** What is wrong with `value` as the schema at `ref` (a pointer into the document, `#/…`); nothing: []. */
  schemaErrors(ref: string, value: unknown): string[] {
    const v = this.validator(ref);
    if (v(value)) return [];
    return (v.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
  }

  /** What is wrong with an answer (nothing: []). */
  check(answer: Answer): string[] {
    const op = this.operationOf(answer.method, answer.path);
    if (!op) {
      // No operation: only the API's own "no such route" problem may answer a /v1 path (web pages are not the API).
      if (!answer.path.startsWith('/v1/') && answer.path !== '/v1') return [];
      if (answer.status !== 404) return [`no operation ${answer.method} ${answer.path} in the document`];
      return this.body(answer, '#/components/schemas/Problem', ['application/problem+json']);
    }
    const declared = op.responses[String(answer.status)] ?? op.responses[`${String(answer.status)[0]}XX`];
    if (!declared)
      return [
        `status ${answer.status} is not declared for ${op.method.toUpperCase()} ${op.template} (declared: ${Object.keys(op.responses).join(', ')})`,
      ];
    const problems = this.headers(answer, declared.headers ?? {});
    const content = declared.content ?? {};
    const types = Object.keys(content);
    if (!types.length) {
      if (answer.body.length) problems.push(`a body (${answer.body.length} bytes) where the document declares none`);
      return problems;
    }
    const status = op.responses[String(answer.status)] ? String(answer.status) : `${String(answer.status)[0]}XX`;
    const contentType = String(answer.headers['content-type'] ?? '');
    const type = types.find((t) => mediaBase(t) === mediaBase(contentType));
    if (!type) return [...problems, `media type "${contentType}" is not among the declared ${types.join(', ')}`];
    if (answer.method.toUpperCase() === 'HEAD') return problems;
    return [
      ...problems,
      ...this.body(answer, `${op.pointer.slice(1)}/responses/${status}/content/${pointerSegment(type)}/schema`, [type]),
    ];
  }

  private body(answer: Answer, ref: string, types: string[]): string[] {
    const contentType = mediaBase(String(answer.headers['content-type'] ?? ''));
    if (!types.some((t) => mediaBase(t) === contentType))
      return [`media type "${contentType}" is not among the declared ${types.join(', ')}`];
    if (!/json$/.test(contentType)) return [];
    let value: unknown;
    try {
      value = JSON.parse(answer.body.toString('utf8'));
    } catch {
      return [`the ${contentType} body is not JSON: ${answer.body.toString('utf8').slice(0, 200)}`];
    }
    return this.schemaErrors(ref.startsWith('#') ? ref : `#${ref}`, value).map((e) => `body ${e}`);
  }

  private headers(answer: Answer, declared: Record<string, Json>): string[] {
    const problems: string[] = [];
    const components = ((this.doc.components as Json).headers ?? {}) as Record<string, HeaderDoc>;
    for (const [name, ref] of Object.entries(declared)) {
      const header: HeaderDoc =
        typeof ref.$ref === 'string' ? components[ref.$ref.replace('#/components/headers/', '')]! : ref;
      const value = answer.headers[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) problems.push(`the required header ${name} is missing`);
        continue;
      }
      const schema = header.schema ?? {};
      const values = Array.isArray(value) ? value : [String(value)];
      for (const v of values) {
        const typed = schema.type === 'integer' || schema.type === 'number' ? Number(v) : v;
        const ok = this.ajv.validate(schema, typed);
        if (!ok) problems.push(`header ${name}: "${v}" ${this.ajv.errorsText(this.ajv.errors)}`);
      }
    }
    return problems;
  }
}

/** One answer that does not match the document, and what is wrong with it. */
export interface Violation {
  request: string;
  status: number;
  problems: string[];
  body: string;
}

/** How much of a text (non-JSON) answer the guard keeps: it checks its media type, never parses it. */
const TEXT_KEPT_BYTES = 64 * 1024;

/**
 * The request listener with every answer checked: the body is copied as it is
 * written and judged when the answer ends. A check never changes the answer;
 * what it finds goes to `onViolation`.
 */
export function guardResponses(
  listener: http.RequestListener,
  guard: ContractGuard,
  onViolation: (v: Violation) => void,
): http.RequestListener {
  return (req, res) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://api.invalid').pathname;
    const chunks: Buffer[] = [];
    let textKept = 0;
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      const bytes = Buffer.isBuffer(chunk)
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk)
          : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      // Only a JSON body is judged whole; of a text one (a streamed CSV export of 100,000 rows) its start is
      // enough – holding it all would make the guard the thing that holds the file.
      if (/json/.test(String(res.getHeader('content-type') ?? 'json'))) return void chunks.push(bytes);
      if (textKept < TEXT_KEPT_BYTES) chunks.push(bytes.subarray(0, TEXT_KEPT_BYTES - textKept));
      textKept += bytes.length;
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
    (res as { write: unknown }).write = (...args: unknown[]) => {
      keep(args[0], args[1]);
      return write(...args);
    };
    (res as { end: unknown }).end = (...args: unknown[]) => {
      keep(args[0], args[1]);
      try {
        const answer: Answer = {
          method,
          path,
          status: res.statusCode,
          headers: res.getHeaders(),
          body: Buffer.concat(chunks),
        };
        const problems = guard.check(answer);
        if (problems.length)
          onViolation({
            request: `${method} ${req.url}`,
            status: res.statusCode,
            problems,
            body: answer.body.toString('utf8').slice(0, 500),
          });
      } catch (err) {
        onViolation({ request: `${method} ${req.url}`, status: res.statusCode, problems: [String(err)], body: '' });
      }
      return end(...args);
    };
    listener(req, res);
  };
}
