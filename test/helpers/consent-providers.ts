/**
 * Local consent-certificate providers speaking the documented shapes, on
 * 127.0.0.1: TrustedForm's claim (`POST /<40 hex cert id>`, Basic `API:<key>`,
 * `api-version: 4.0`, JSON `{retain, match_lead}` → `{outcome, retain,
 * match_lead}`) and Jornaya's Authenticate API (`GET /Authenticate?lac=&id=`
 * → `{authenticate: {authentic, token}}`). Each records every request and
 * counts the claims it granted per certificate; a script of answers makes it
 * fail (a status), hang (no answer) or refuse, in turn, then grant.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer: grant, an HTTP status with a failure body, a refusal (200 with a failing outcome), or silence. */
type ProviderStep = 'grant' | 'refuse' | 'hang' | number;

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface LocalProvider {
  url: string;
  requests: Seen[];
  /** Claims granted, by certificate id. */
  granted: Map<string, number>;
  /** The answers to give next, in turn (then `grant`). */
  script: ProviderStep[];
  close(): Promise<void>;
}

export const trustedFormCertificate = () => `https://cert.trustedform.com/${crypto.randomBytes(20).toString('hex')}`;
export const leadIdToken = () => crypto.randomUUID().toUpperCase();

async function listen(
  answer: (seen: Seen, url: URL, step: ProviderStep, res: http.ServerResponse) => void,
): Promise<LocalProvider> {
  const hanging = new Set<http.ServerResponse>();
  const provider = { requests: [] as Seen[], granted: new Map<string, number>(), script: [] as ProviderStep[] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      provider.requests.push(seen);
      const step = provider.script.shift() ?? 'grant';
      if (step === 'hang') {
        hanging.add(res);
        return;
      }
      res.setHeader('Content-Type', 'application/json');
      if (typeof step === 'number') {
        res.statusCode = step;
        res.end(JSON.stringify({ message: `scripted ${step}` }));
        return;
      }
      answer(seen, new URL(seen.path, 'http://provider'), step, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(provider, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const res of hanging) res.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

const grant = (p: { granted: Map<string, number> }, id: string) => p.granted.set(id, (p.granted.get(id) ?? 0) + 1);

/** TrustedForm (API v4): the key is checked, the certificate id must be 40 hex, the lead is matched on email and phone. */
export async function startTrustedForm(apiKey: string): Promise<LocalProvider> {
  const provider: LocalProvider = await listen((seen, url, step, res) => {
    const certId = url.pathname.slice(1);
    const auth = `Basic ${Buffer.from(`API:${apiKey}`).toString('base64')}`;
    if (seen.method !== 'POST' || seen.headers.authorization !== auth) {
      res.statusCode = 401;
      res.end(JSON.stringify({ message: 'Authentication failed' }));
      return;
    }
    if (!/^[0-9a-f]{40}$/.test(certId)) {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'certificate not found' }));
      return;
    }
    const body = JSON.parse(seen.body) as { retain?: object; match_lead?: { email?: string; phone?: string } };
    const ok = step === 'grant' && !!body.retain;
    if (ok) grant(provider, certId);
    res.end(
      JSON.stringify({
        outcome: ok ? 'success' : 'failure',
        reason: ok ? undefined : 'certificate expired',
        cert_id: certId,
        retain: ok ? { results: { expires_at: '2031-01-01T00:00:00Z', reference: body.retain } } : undefined,
        match_lead: {
          email: body.match_lead?.email,
          phone: body.match_lead?.phone,
          result: { email_match: true, phone_match: true, success: true },
        },
      }),
    );
  });
  return provider;
}

/** Jornaya's Authenticate API: the account code is checked, the token must be 36 characters. */
export async function startJornaya(accountCode: string): Promise<LocalProvider> {
  const provider: LocalProvider = await listen((seen, url, step, res) => {
    const token = url.searchParams.get('id') ?? '';
    if (seen.method !== 'GET' || url.pathname !== '/Authenticate' || url.searchParams.get('lac') !== accountCode) {
      res.statusCode = 403;
      res.end(JSON.stringify({ message: 'unknown account' }));
      return;
    }
    const authentic = step === 'grant' && token.length === 36;
    if (authentic) grant(provider, token);
    res.end(JSON.stringify({ authenticate: { authentic: authentic ? 1 : 0, token } }));
  });
  return provider;
}
