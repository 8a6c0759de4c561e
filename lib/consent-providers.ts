/**
 * The consent-certificate providers (#23 item 4) behind one interface: claim a
 * lead's certificate for the agency's account, once the sale has committed.
 * Each call goes through the guarded HTTP request (lib/endpoint-http.ts): SSRF
 * checks, its own timeout, the answer read up to a bound.
 *
 * - TrustedForm (ActiveProspect, API v4): `POST <base>/<certificate id>` with HTTP Basic `API:<api key>`,
 *   `api-version: 4.0`, a JSON body `{retain: {reference, vendor}, match_lead: {email, phone}}`; the answer's
 *   `outcome` is `success` when the certificate is retained.
 * - Jornaya (Verisk LeadiD) Authenticate API: `GET <base>/Authenticate?lac=<account code>&id=<LeadiD token>`;
 *   the answer `{authenticate: {authentic: 1|0, token}}` says whether the token is genuine.
 *
 * A claim answers `claimed` with the provider's JSON, `refused` when the provider said no (retrying cannot help),
 * or `unavailable` (no answer, a 5xx or a 429: the activity retries).
 */
import type { ConsentProvider } from '../domain/types';
import { CallFailed, guardedRequest } from './endpoint-http';
import { UrlRefused } from './url-guard';

/** Where each provider's API is, unless the agency names another base URL. */
export const DEFAULT_PROVIDER_BASE_URLS: Record<ConsentProvider, string> = {
  trustedform: 'https://cert.trustedform.com',
  jornaya: 'https://api.leadid.com',
};

interface ClaimRequest {
  baseUrl: string;
  /** TrustedForm: the API key; Jornaya: the account code (lac). */
  credential: string;
  certificateId: string;
  /** Ours, stored with the claim by the provider (the assignment id). */
  reference: string;
  lead: { email: string; phone: string };
  timeoutMs: number;
  /** Internal targets allowed despite the SSRF rules; null = LW_WEBHOOK_ALLOWLIST. */
  allowlist?: string | null;
}

type ClaimAnswer =
  { outcome: 'claimed'; answer: unknown } | { outcome: 'refused' | 'unavailable'; error: string; answer: unknown };

interface ProviderAdapter {
  claim(req: ClaimRequest): Promise<ClaimAnswer>;
}

const MAX_ANSWER_BYTES = 64 * 1024;

function json(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body.slice(0, 2000);
  }
}

const base = (url: string) => url.replace(/\/+$/, '');

/** The HTTP call both adapters make, its failures sorted: no answer is `unavailable`, a refused URL `refused`. */
async function call(
  url: string,
  req: ClaimRequest,
  init: { method: 'POST' | 'GET'; headers: Record<string, string>; body: string },
): Promise<{ status: number; answer: unknown } | ClaimAnswer> {
  try {
    const res = await guardedRequest(url, {
      ...init,
      timeoutMs: req.timeoutMs,
      allowlist: req.allowlist,
      maxBytes: MAX_ANSWER_BYTES,
    });
    return { status: res.status, answer: json(res.body) };
  } catch (err) {
    if (err instanceof UrlRefused) return { outcome: 'refused', error: err.message, answer: null };
    if (err instanceof CallFailed) return { outcome: 'unavailable', error: err.message, answer: null };
    throw err;
  }
}

/** A status that is not a 2xx: 5xx and 429 may pass (retry), any other 4xx will not. */
function byStatus(status: number, answer: unknown): ClaimAnswer {
  const error = `the provider answered HTTP ${status}`;
  return status >= 500 || status === 429
    ? { outcome: 'unavailable', error, answer }
    : { outcome: 'refused', error, answer };
}

const trustedForm: ProviderAdapter = {
  async claim(req) {
    const res = await call(`${base(req.baseUrl)}/${encodeURIComponent(req.certificateId)}`, req, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`API:${req.credential}`).toString('base64')}`,
        'api-version': '4.0',
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      body: JSON.stringify({
        retain: { reference: req.reference, vendor: 'leadwire' },
        match_lead: { email: req.lead.email, phone: req.lead.phone },
      }),
    });
    if ('outcome' in res) return res;
    if (res.status < 200 || res.status >= 300) return byStatus(res.status, res.answer);
    const outcome = (res.answer as { outcome?: unknown } | null)?.outcome;
    return outcome === 'success'
      ? { outcome: 'claimed', answer: res.answer }
      : { outcome: 'refused', error: `TrustedForm outcome: ${String(outcome)}`, answer: res.answer };
  },
};

const jornaya: ProviderAdapter = {
  async claim(req) {
    const q = new URLSearchParams({ lac: req.credential, id: req.certificateId });
    const res = await call(`${base(req.baseUrl)}/Authenticate?${q}`, req, {
      method: 'GET',
      headers: { Accept: 'application/json' },
      body: '',
    });
    if ('outcome' in res) return res;
    if (res.status < 200 || res.status >= 300) return byStatus(res.status, res.answer);
    const authentic = (res.answer as { authenticate?: { authentic?: unknown } } | null)?.authenticate?.authentic;
    return Number(authentic) === 1
      ? { outcome: 'claimed', answer: res.answer }
      : { outcome: 'refused', error: 'Jornaya: the LeadiD token is not authentic', answer: res.answer };
  },
};

export const CONSENT_PROVIDER_ADAPTERS: Record<ConsentProvider, ProviderAdapter> = {
  trustedform: trustedForm,
  jornaya,
};
