/**
 * Local HTTP servers speaking the scrub providers' documented APIs (#23 item
 * 5), for intake's tests:
 * - TCPA Litigator List: `POST /scrub/phone/`, HTTP Basic, form fields
 *   `phone_number` and `type` (a JSON array); a listed number answers
 *   `{"results": {"is_bad_number": true, "status": "TCPA", …}}`, a clean one
 *   `{"clean": {"<number>": {"phone_number": "<number>"}}}`; wrong credentials 401.
 * - RealPhoneValidation Scrub API: `POST /rpvWebService/RealPhoneValidationScrub.php`,
 *   form fields `phone`, `token`, `output=json`; answers
 *   `{"status": "connected" | "disconnected" | …, "error_text": {}, …}`, a wrong
 *   token `{"status": "unauthorized", "error_text": "token is not valid"}`.
 *
 * Each counts the calls per number, and can be taken down (`mode`: `down`
 * answers 503, `hang` never answers) and brought back.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type ProviderMode = 'up' | 'down' | 'hang';

export interface ScrubProvider {
  baseUrl: string;
  /** Calls received (all, whatever the mode), by the ten-digit number asked. */
  calls: Map<string, number>;
  total(): number;
  mode: ProviderMode;
  close(): Promise<void>;
}

interface Answerer {
  path: string;
  answer(form: URLSearchParams, headers: http.IncomingHttpHeaders): { status: number; body: unknown; number: string };
}

async function startProvider(answerer: Answerer): Promise<ScrubProvider> {
  const calls = new Map<string, number>();
  const hanging = new Set<http.ServerResponse>();
  const me: ScrubProvider = {
    baseUrl: '',
    calls,
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
    mode: 'up',
    close: async () => {
      for (const res of hanging) res.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (req.method !== 'POST' || req.url !== answerer.path) {
        res.writeHead(404).end();
        return;
      }
      const { status, body, number } = answerer.answer(form, req.headers);
      calls.set(number, (calls.get(number) ?? 0) + 1);
      if (me.mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (me.mode === 'down') {
        res.writeHead(503, { 'Content-Type': 'text/html' }).end('<h1>503 Service Unavailable</h1>');
        return;
      }
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  me.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return me;
}

/** TCPA Litigator List's single-record scrub; `litigators` are the listed ten-digit numbers. */
export function startLitigatorList(opts: { username: string; password: string; litigators: string[] }) {
  const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  return startProvider({
    path: '/scrub/phone/',
    answer(form, headers) {
      const number = form.get('phone_number') ?? '';
      if (headers.authorization !== expected) return { status: 401, body: { message: 'Unauthorized' }, number };
      if (!/^\d{10}$/.test(number) || form.get('type') !== '["tcpa"]')
        return { status: 400, body: { message: 'bad request' }, number };
      const listed = opts.litigators.includes(number);
      return listed
        ? {
            status: 200,
            number,
            body: {
              results: {
                phone_number: number,
                status: 'TCPA',
                status_array: ['tcpa'],
                is_bad_number: true,
                clean: 0,
                case_title: '',
                phone_type: 'Landline',
              },
            },
          }
        : { status: 200, number, body: { clean: { [number]: { phone_number: number } } } };
    },
  });
}

/** RealPhoneValidation's Scrub API; `statuses` maps a ten-digit number to its status (default `connected`). */
export function startLineStatus(opts: { token: string; statuses: Record<string, string> }) {
  return startProvider({
    path: '/rpvWebService/RealPhoneValidationScrub.php',
    answer(form) {
      const number = form.get('phone') ?? '';
      if (form.get('token') !== opts.token)
        return { status: 200, number, body: { status: 'unauthorized', error_text: 'token is not valid' } };
      if (form.get('output') !== 'json' || !/^\d{10}$/.test(number))
        return {
          status: 200,
          number,
          body: { status: 'invalid-format', error_text: 'phone is not in a valid format' },
        };
      return {
        status: 200,
        number,
        body: { status: opts.statuses[number] ?? 'connected', error_text: {}, iscell: 'Y', carrier: 'Test Wireless' },
      };
    },
  });
}
