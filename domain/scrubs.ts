/**
 * Third-party scrubs (#23 item 5), the pure half: each provider's adapter as a
 * request built from the number and the credentials and an answer read into
 * one verdict, and the circuit breaker's arithmetic. The I/O (the call, the
 * cache, the budget, the circuit's shared state) is lib/scrubs.ts and
 * db/scrubs.ts.
 *
 * One adapter shape for every provider: `request(number, credentials)` gives
 * the path, headers and body of one POST under the agency's base URL; `read`
 * turns the provider's 2xx answer into `hit`, `clean` or `unknown` (the
 * provider could not tell), or throws ProviderAnswerError when the answer is
 * not the documented shape (counted as a failure, like a 5xx).
 *
 * - **litigator** – TCPA Litigator List (api.tcpalitigatorlist.com), its
 *   documented single-record scrub: `POST /scrub/phone/`, HTTP Basic
 *   authentication (API username and password), form fields `phone_number`
 *   (ten digits) and `type` (a JSON array of lists, `["tcpa"]`). A match
 *   answers `{"results": {"is_bad_number": true, "status": "TCPA", …}}` (or a
 *   `match` object keyed by number), a clean number `{"clean": {"<number>":
 *   {…}}}` or `results.clean: 1`.
 * - **line_status** – RealPhoneValidation's Scrub API
 *   (api.realvalidation.com): `POST /rpvWebService/RealPhoneValidationScrub.php`,
 *   form fields `phone` (ten digits), `token` and `output=json`; the answer's
 *   `status` is `connected`, `connected-75`, `disconnected`,
 *   `disconnected-70`, `busy`, `unreachable`, `pending`, `restricted`,
 *   `invalid phone`…, or `ERROR` / `unauthorized` / `server-unavailable` (a
 *   failure of the call, not a verdict on the number).
 *
 * Both cover North American numbers only: anything but +1 is `skipped`.
 */
import type { Scrub } from './types';

/** The provider adapter of each scrub (the name on the timeline). */
export const SCRUB_PROVIDERS = {
  litigator: 'tcpa_litigator_list',
  line_status: 'real_phone_validation',
} as const satisfies Record<Scrub, string>;

/** Where each provider's API lives unless the agency names another base URL (its backup server, a proxy). */
export const DEFAULT_BASE_URLS: Record<Scrub, string> = {
  litigator: 'https://api.tcpalitigatorlist.com',
  line_status: 'https://api.realvalidation.com',
};

/** What each provider needs: TCPA Litigator List a username and a password (Basic), RealPhoneValidation a token. */
export interface ScrubCredentials {
  username?: string | null;
  secret: string;
}

export type ScrubVerdict = { verdict: 'hit' | 'clean' | 'unknown'; status: string };

/** The provider answered, but not in its documented shape, or said the call itself failed (token, server). */
export class ProviderAnswerError extends Error {
  override name = 'ProviderAnswerError';
}

interface ScrubAdapter {
  request(
    tenDigits: string,
    credentials: ScrubCredentials,
  ): { path: string; headers: Record<string, string>; body: string };
  read(body: unknown): ScrubVerdict;
}

const FORM = 'application/x-www-form-urlencoded';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const litigatorList: ScrubAdapter = {
  request(number, c) {
    const basic = Buffer.from(`${c.username ?? ''}:${c.secret}`, 'utf8').toString('base64');
    return {
      path: '/scrub/phone/',
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': FORM, Accept: 'application/json' },
      body: new URLSearchParams({ phone_number: number, type: JSON.stringify(['tcpa']) }).toString(),
    };
  },
  read(body) {
    if (!isObject(body)) throw new ProviderAnswerError('the answer is not a JSON object');
    const results = body.results;
    if (isObject(results) && typeof results.is_bad_number === 'boolean')
      return {
        verdict: results.is_bad_number ? 'hit' : 'clean',
        status:
          typeof results.status === 'string' && results.status
            ? results.status
            : results.is_bad_number
              ? 'TCPA'
              : 'clean',
      };
    if (isObject(body.match) && Object.keys(body.match).length > 0) {
      const first = Object.values(body.match)[0];
      return { verdict: 'hit', status: isObject(first) && typeof first.status === 'string' ? first.status : 'TCPA' };
    }
    if (isObject(body.clean) && Object.keys(body.clean).length > 0) return { verdict: 'clean', status: 'clean' };
    throw new ProviderAnswerError('neither `results`, `match` nor `clean` in the answer');
  },
};

/** RealPhoneValidation's words for "the call failed", not a verdict on the number. */
const RPV_FAILURES = new Set(['error', 'unauthorized', 'server-unavailable', 'invalid-format']);
const RPV_CLEAN = new Set(['connected', 'connected-75', 'busy']);
const RPV_HIT = new Set(['disconnected']);

const realPhoneValidation: ScrubAdapter = {
  request(number, c) {
    return {
      path: '/rpvWebService/RealPhoneValidationScrub.php',
      headers: { 'Content-Type': FORM, Accept: 'application/json' },
      body: new URLSearchParams({ output: 'json', phone: number, token: c.secret }).toString(),
    };
  },
  read(body) {
    if (!isObject(body) || typeof body.status !== 'string') throw new ProviderAnswerError('no `status` in the answer');
    const status = body.status.trim();
    const word = status.toLowerCase();
    if (RPV_FAILURES.has(word)) {
      const why = typeof body.error_text === 'string' && body.error_text ? `: ${body.error_text}` : '';
      throw new ProviderAnswerError(`the provider answered ${status}${why}`);
    }
    if (RPV_HIT.has(word)) return { verdict: 'hit', status };
    if (RPV_CLEAN.has(word)) return { verdict: 'clean', status };
    // disconnected-70, pending, unreachable, restricted, invalid phone, unknown: the provider cannot say for sure.
    return { verdict: 'unknown', status };
  },
};

export const SCRUB_ADAPTERS: Record<Scrub, ScrubAdapter> = {
  litigator: litigatorList,
  line_status: realPhoneValidation,
};

/** The ten digits both providers take, from an E.164 number of the North American plan; null for any other. */
export function nanpDigits(e164: string): string | null {
  return /^\+1\d{10}$/.test(e164) ? e164.slice(2) : null;
}

/** The UTC day a cached answer belongs to (`YYYY-MM-DD`) and the UTC month a budget counts (`YYYY-MM`). */
export const utcDay = (at: Date) => at.toISOString().slice(0, 10);
export const utcMonth = (at: Date) => at.toISOString().slice(0, 7);

/** The circuit's state as read from its shared row: closed, open (cooling down), or half-open (a probe may go). */
export function circuitState(
  row: { circuitOpenedAt: Date | null; cooldownMs: number },
  now: Date,
): 'closed' | 'open' | 'half_open' {
  if (!row.circuitOpenedAt) return 'closed';
  return now.getTime() - row.circuitOpenedAt.getTime() >= row.cooldownMs ? 'half_open' : 'open';
}
