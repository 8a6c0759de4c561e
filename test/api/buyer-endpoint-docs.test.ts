/**
 * docs/buyer-endpoints.md, run: the example endpoint server
 * (docs/examples/buyer-endpoint-server.mjs) started as the page says, called
 * with the page's curl, then set up and tested through the real API with the
 * page's own request bodies – signed, so the example's verification runs too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { endpointForCalls, recordEndpointCall } from '../../db/endpoints';
import { queryStatus } from '../../lib/endpoint-calls';
import { docCurlBody } from './doc-examples';
import { apiAgency, apiBuyer, bearer, type Harness, startHarness } from './harness';

const DOC = 'docs/buyer-endpoints.md';
const SECRET = `whsec_${Buffer.from('the-docs-example-endpoint-secret').toString('base64')}`;
const children: ChildProcess[] = [];
let h: Harness;

/** Starts the example server on a free port (with a key, it verifies signatures); answers its base URL. */
async function startExample(env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, [path.join(__dirname, '../../docs/examples/buyer-endpoint-server.mjs')], {
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the example server exited (${code})`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      const m = /listening on (http:\/\/\S+)/.exec(chunk.toString());
      if (m) resolve(m[1]!);
    });
  });
}

beforeAll(async () => {
  h = await startHarness({ api: { webhookAllowlist: '127.0.0.1' } });
});

afterAll(async () => {
  for (const c of children) c.kill();
  await h.close();
});

test('the example server answers the page’s curl', async () => {
  const base = await startExample();
  const body = docCurlBody(DOC, '8787/ping');
  const res = await fetch(`${base}/ping`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(await res.json()).toEqual({ status: 'accepted', bid: 45, ping_id: expect.any(String) });
});

test('the example server answers the page’s status query curl as the page says', async () => {
  const base = await startExample();
  const text = fs.readFileSync(path.join(__dirname, '../..', DOC), 'utf8');
  const m = /curl -s '(http:\/\/127\.0\.0\.1:8787\/status\?[^']*)'\n# → (.*)/.exec(text);
  expect(m).not.toBeNull();
  const url = new URL(m![1]!);
  const res = await fetch(`${base}${url.pathname}${url.search}`);
  expect(await res.json()).toEqual(JSON.parse(m![2]!));
});

test('the page’s endpoint, set through the API and tested with a sample lead, is pinged, signed and posted', async () => {
  const base = await startExample({ ENDPOINT_SECRET: SECRET });
  const { adminKey } = await apiAgency(h);
  const { buyer } = await apiBuyer(h, adminKey);
  const vars = {
    PING_URL: `${base}/ping`,
    POST_URL: `${base}/post`,
    STATUS_URL: `${base}/status`,
    ENDPOINT_SECRET: SECRET,
  };
  const put = await h.http
    .put(`/v1/buyers/${buyer.id}/endpoint`)
    .set(bearer(adminKey))
    .send(docCurlBody(DOC, '-X PUT', vars));
  expect(put.status).toBe(200);
  expect(put.body.endpoint).toMatchObject({ statusUrl: `${base}/status`, statusMethod: 'GET', statusTemplate: null });

  const res = await h.http
    .post(`/v1/buyers/${buyer.id}/endpoint/test`)
    .set(bearer(adminKey))
    .send(docCurlBody(DOC, '/endpoint/test'));
  expect(res.status).toBe(200);
  expect(res.body.ping).toMatchObject({ outcome: 'accepted', bid: 45, pingId: expect.any(String) });
  expect(res.body.post).toMatchObject({ outcome: 'accepted' });
  expect(JSON.parse(res.body.post.request.body)).toMatchObject({ ping_id: res.body.ping.pingId });

  // The status query, signed, through the call library: the tested post's key is answered with its first answer
  // (accepted), a key never sent with the kept refusal.
  const endpoint = (await endpointForCalls(h.database.db, buyer.id))!;
  const deps = {
    record: (call: Parameters<typeof recordEndpointCall>[1]) => recordEndpointCall(h.database.db, call),
    allowlist: '127.0.0.1',
  };
  const postKey = res.body.post.request.headers['Idempotency-Key'] as string;
  const leadId = crypto.randomUUID();
  expect(await queryStatus(endpoint, { leadId, pingId: null }, postKey, deps)).toMatchObject({ result: 'accepted' });
  expect(await queryStatus(endpoint, { leadId, pingId: null }, 'sale:never-sent', deps)).toMatchObject({
    result: 'rejected',
    reason: 'never received',
  });

  // Unsigned, the same server refuses: the verification the page shows is what ran.
  const forged = await fetch(`${base}/ping`, { method: 'POST', body: '{"zip_code":"78701"}' });
  expect(forged.status).toBe(401);
});
