/**
 * The HTTP client of the pages: same origin, signed in by the session cookie
 * (HttpOnly: the pages never see it, and no key or secret is kept in web
 * storage); every unsafe request carries the session's CSRF token
 * (`X-CSRF-Token`, from GET /v1/session), JSON in and out. Every call goes through
 * the API's typed client (packages/client, generated from the OpenAPI
 * document): `api.client.GET('/v1/me/wallet')` is checked against the
 * contract by `npm run typecheck` (a path, parameter or body the contract
 * does not have fails it), and `ok(…)` turns its answer into the 2xx body or an
 * ApiError; `allPages(…)` follows a list's cursor. Failures become an ApiError
 * carrying the problem document (RFC 9457) so a form can show `detail` and mark
 * the fields named in `errors`.
 */
import { createLeadwireClient, type LeadwireClient } from '../../../packages/client';
import type { Page } from './types';

export interface FieldError {
  path: string;
  message: string;
  in?: string;
  /** In text with a syntax (an endpoint's template or rules): the character of the error. */
  position?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly body: unknown = null,
  ) {
    super(detail || `HTTP ${status}`);
  }
  /** The message for a field (`"zip"`, `"fields.zip"`, `"price.base"`…), if the API named it. */
  fieldError(path: string): string | undefined {
    return this.errors.find((e) => e.path === path || e.path.endsWith(`.${path}`))?.message;
  }
}

/** Server time minus browser time, from the Date header (a countdown must not trust a wrong laptop clock). */
let clockSkewMs = 0;
export const serverNow = () => Date.now() + clockSkewMs;

function noteServerDate(res: Response): void {
  const date = res.headers.get('date');
  if (!date) return;
  const skew = Date.parse(date) - Date.now();
  // The header has 1 s resolution: only a clearly wrong clock is corrected.
  if (Number.isFinite(skew)) clockSkewMs = Math.abs(skew) > 2_000 ? skew : 0;
}

/** What a typed call answers (openapi-fetch): the 2xx body in `data`, any other in `error`. */
export interface TypedAnswer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** A typed call's 2xx body, else an ApiError with its problem document. */
export async function ok<T>(call: Promise<TypedAnswer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  throw toApiError(response.status, error ?? null);
}

/**
 * Every item of a list (bounded: `max` items), page by page (200 each),
 * following `nextCursor`: `page` makes one typed call with the query it is given.
 */
export async function allPages<K extends string, T>(
  key: K,
  page: (query: { limit: number; cursor?: string }) => Promise<TypedAnswer<Page<K, T>>>,
  max = 1_000,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const got: Page<K, T> = await ok(page({ limit: 200, ...(cursor ? { cursor } : {}) }));
    out.push(...(got[key] ?? []));
    cursor = got.nextCursor ?? null;
  } while (cursor && out.length < max);
  return out;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CSRF_HEADER = 'X-CSRF-Token';

export class Api {
  /** The typed client of the API: same origin, the session cookie, no cache. */
  readonly client: LeadwireClient;

  constructor(
    /** The session's CSRF token (GET /v1/session), sent on every unsafe request; null before signing in. */
    private readonly csrfToken: () => string | null = () => null,
    /** Called on 401: the session ended (signed out elsewhere, expired, revoked). */
    private readonly onUnauthorized: () => void = () => undefined,
  ) {
    this.client = createLeadwireClient({
      baseUrl: '',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'same-origin',
      fetch: (request) => this.fetch(request),
    });
  }

  /** One request of this session (the typed client's, and web/src/shared/account-api.ts's). */
  async fetch(request: Request): Promise<Response> {
    const csrf = this.csrfToken();
    if (csrf && !SAFE_METHODS.has(request.method)) request.headers.set(CSRF_HEADER, csrf);
    let res: Response;
    try {
      res = await fetch(request);
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      throw new ApiError(0, 'network_error', 'The server cannot be reached. Check your connection.');
    }
    noteServerDate(res);
    if (res.status === 401) void sessionGone(res).then((gone) => gone && this.onUnauthorized());
    return res;
  }

  /**
   * Sends a file as a request's body (a CSV upload) with XMLHttpRequest, whose upload events tell how much has
   * been sent: `onProgress` gets the fraction. The server reads the file as it arrives, so what is sent is what it
   * has read. Answers the JSON body; a refusal throws the ApiError of its problem document.
   */
  upload<T>(url: string, file: Blob, onProgress: (fraction: number) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('Content-Type', 'text/csv');
      xhr.setRequestHeader('Accept', 'application/json');
      const csrf = this.csrfToken();
      if (csrf) xhr.setRequestHeader(CSRF_HEADER, csrf);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onerror = () =>
        reject(new ApiError(0, 'network_error', 'The server cannot be reached. Check your connection.'));
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          // not JSON: the status says it
        }
        if (xhr.status === 401) this.onUnauthorized();
        if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
        else reject(toApiError(xhr.status, body));
      };
      xhr.send(file);
    });
  }
}

/**
 * Whether a 401 means the session is gone (no live session, or a second
 * factor owed), not a refused password of a form such as "change password".
 */
async function sessionGone(res: Response): Promise<boolean> {
  try {
    const code = ((await res.clone().json()) as { code?: string } | null)?.code;
    return !code || code === 'unauthorized' || code === 'second_factor_required';
  } catch {
    return true;
  }
}

export function toApiError(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object') {
    const p = body as { code?: string; detail?: string; title?: string; errors?: FieldError[]; reason?: string };
    return new ApiError(
      status,
      p.code ?? p.reason ?? `http_${status}`,
      p.detail ?? p.title ?? p.reason ?? `HTTP ${status}`,
      p.errors ?? [],
      body,
    );
  }
  return new ApiError(
    status,
    `http_${status}`,
    typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${status}`,
  );
}

/** A human message for any thrown value. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.errors.length ? ` (${err.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})` : '';
    return err.detail.includes(fields.trim()) ? err.detail : `${err.detail}${fields}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A random id; works on plain http (crypto.randomUUID needs a secure context). */
export function randomId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
