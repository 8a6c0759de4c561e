/**
 * A route is one declarative object: method, path, who may call it, the zod
 * schemas of its path, query and body, its documented responses, and a
 * handler that returns a Reply. The app registers routes from these objects
 * and the OpenAPI document is generated from the very same objects, so the
 * document cannot drift from what is validated and served.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';

import type { Principal, Role } from './auth';
import { type KindsOf, kindsOf, type OperationId } from './authorization';
import type { Reply } from './idempotency';
import type { QuotaName } from './rate-limit';
import { NoQuery } from './schemas';
import type { ApiServices } from './services';
import type { SignedIn } from './sessions';

export type { Reply } from './idempotency';

export interface RawReply {
  status: number;
  raw: string;
  contentType: string;
  headers?: Record<string, string>;
}

/** A body written as it is produced (CSV exports): constant memory, the socket's backpressure respected. */
export interface StreamReply {
  status: number;
  contentType: string;
  headers?: Record<string, string>;
  stream: AsyncIterable<string>;
}

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json (application/problem+json for 4xx/5xx without a schema). */
  contentType?: string;
  /** The status may also come as a problem document (e.g. 403: a claim refusal, or a key of the wrong kind). */
  orProblem?: boolean;
  /** Response headers this answer always carries, by name (components in api/openapi.ts `HEADERS`). */
  headers?: ResponseHeader[];
  /** The document's example of this answer (default: one built from the schema, api/openapi-examples.ts). */
  example?: unknown;
  /** The same answer in another text format the caller may ask for (a statement as CSV with `?format=csv`). */
  alsoAs?: { contentType: string; example: string };
}

/**
 * The response headers the document declares. Retry-After (every 429 and 503), RateLimit/RateLimit-Policy (the
 * routes with a `quota`) and Idempotent-Replayed (idempotent routes' 2xx) are added by the generator itself.
 */
export type ResponseHeader = 'Location' | 'Set-Cookie';

/** A request body the handler reads itself (a CSV upload): documented, not parsed by the pipeline. */
export interface FileBody {
  mediaTypes: string[];
  description: string;
  example: string;
}

const Empty = z.object({}).strict();

interface HandlerInput<R extends Role, P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  principal: Extract<Principal, { kind: R }>;
  /** The signed-in person, on `session` routes (else null). */
  signedIn: SignedIn | null;
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  /** Validated `Idempotency-Key` (routes marked idempotent), else null. */
  idempotencyKey: string | null;
  /** The body's bytes as received, on `rawBody` routes (a signed webhook), else null. */
  rawBody: Buffer | null;
  req: Request;
  /** For cookies only (sign-in, sign-out); the answer itself is the returned Reply. */
  res: Response;
  services: ApiServices;
}

export interface RouteSpec<Op extends OperationId, P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** Express syntax (`/v1/buyers/:id`); OpenAPI's `{id}` is derived. */
  path: string;
  /** Its row in the authorization table (api/authorization.ts) says who may call it. */
  operationId: Op;
  tag: string;
  summary: string;
  description?: string;
  /**
   * A route for a signed-in person rather than an organisation (their account,
   * sessions, second factor): only the session cookie opens it (a key gets 403
   * `session_required`); `full` needs a finished sign-in, `any` also accepts a
   * session that still owes its second factor. Its row in the table is empty.
   */
  session?: 'full' | 'any';
  params?: P;
  query?: Q;
  body?: B;
  /** The document's example of the body (default: one built from the schema, api/openapi-examples.ts). */
  bodyExample?: unknown;
  /** The body may be omitted entirely (e.g. a claim without requestId). */
  bodyOptional?: boolean;
  /** The body's bytes are kept for the handler (`rawBody`: a signature over them is checked); `body` still parses them. */
  rawBody?: boolean;
  /** A body that is not JSON (a file, streamed by the handler itself from `req`): its media types and shape, for the document. */
  fileBody?: FileBody;
  /** Accepts `Idempotency-Key`. */
  idempotent?: boolean;
  /** The rate-limit policy whose quota its answers advertise (RateLimit, RateLimit-Policy), e.g. `claims`. */
  quota?: QuotaName;
  responses: Record<number, ResponseDoc>;
  handler(input: HandlerInput<KindsOf<Op>, P, Q, B>): Promise<Reply | RawReply | StreamReply>;
}

/** A route with its types erased, as the app and the document generator see it. */
export interface AnyRoute {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  operationId: OperationId;
  tag: string;
  summary: string;
  description?: string;
  /** The kinds of principal its row admits (derived from the authorization table); empty for a public route. */
  roles: readonly Role[];
  session?: 'full' | 'any';
  params: z.ZodType;
  query: z.ZodType;
  body?: z.ZodType;
  bodyExample?: unknown;
  bodyOptional?: boolean;
  rawBody?: boolean;
  fileBody?: FileBody;
  idempotent?: boolean;
  quota?: QuotaName;
  responses: Record<number, ResponseDoc>;
  handler(input: HandlerInput<Role, z.ZodType, z.ZodType, z.ZodType>): Promise<Reply | RawReply | StreamReply>;
}

export function route<
  Op extends OperationId,
  P extends z.ZodType = typeof Empty,
  Q extends z.ZodType = typeof NoQuery,
  B extends z.ZodType = typeof Empty,
>(spec: RouteSpec<Op, P, Q, B>): AnyRoute {
  return {
    ...spec,
    roles: kindsOf(spec.operationId),
    params: spec.params ?? Empty,
    query: spec.query ?? NoQuery,
  } as unknown as AnyRoute;
}

export const isRaw = (r: Reply | RawReply | StreamReply): r is RawReply => 'raw' in r;
export const isStream = (r: Reply | RawReply | StreamReply): r is StreamReply => 'stream' in r;

/** Problem responses every authenticated route can answer. */
export const AUTH_ERRORS: Record<number, ResponseDoc> = {
  401: { description: 'missing or invalid API key (`unauthorized`)' },
  403: { description: "the caller's role may not call this route (`forbidden`, naming the roles it needs)" },
  429: { description: 'too many failed authentications from this address (`rate_limited`)' },
};
export const BAD_INPUT: Record<number, ResponseDoc> = {
  400: { description: 'invalid input (`validation_failed`, `malformed_json`); `errors` names the fields' },
};
export const BODY_ERRORS: Record<number, ResponseDoc> = {
  ...BAD_INPUT,
  413: { description: 'body over 1 MiB (`payload_too_large`)' },
  415: { description: 'body is not JSON (`unsupported_media_type`)' },
};
export const NOT_FOUND: Record<number, ResponseDoc> = {
  404: { description: 'unknown id, or one of another tenant (`not_found`)' },
};
