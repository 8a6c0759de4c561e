/**
 * A local HTTP server that answers 200 (or the status it is told) and records each request
 * (path, headers, body): the far end of buyers' webhooks and of the SMS/voice
 * provider in tests of alerts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** `statusFor` picks the answer's status by path (default 200). */
export async function startRecorder(
  statusFor: (path: string) => number = () => 200,
): Promise<{ url: string; received: Recorded[]; close(): Promise<void> }> {
  const received: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.statusCode = statusFor(req.url ?? '');
      res.end(res.statusCode < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
