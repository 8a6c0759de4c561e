/**
 * A buyer's endpoint through the API (#22), on the real app, database and
 * local endpoint servers: set and read it (the secret write-only), bad
 * templates and rules refused with the field and the position, private
 * addresses refused, the "test endpoint" call answering the mapped request and
 * the parsed answer, and the endpoint log with secrets masked.
 */
import { Webhook } from 'standardwebhooks';

import { BEHAVIOURS, type Fleet, FLEET_SETTINGS, startEndpointFleet } from '../helpers/endpoint-fleet';
import { apiAgency, apiBuyer, bearer, type Harness, startHarness } from './harness';

let h: Harness;
let fleet: Fleet;
let adminKey: string;

beforeAll(async () => {
  h = await startHarness({ api: { webhookAllowlist: '127.0.0.1' } });
  fleet = startEndpointFleet();
  ({ adminKey } = await apiAgency(h));
});

afterAll(async () => {
  await fleet.close();
  await h.close();
});

const SECRET = `whsec_${Buffer.from('endpoint-secret-for-the-api-test').toString('base64')}`;

async function buyerWithServer(script = BEHAVIOURS.bid(42)) {
  const { buyer } = await apiBuyer(h, adminKey);
  const server = await fleet.add(script);
  const body = {
    ...FLEET_SETTINGS,
    pingUrl: server.pingUrl,
    postUrl: server.postUrl,
    auth: { kind: 'hmac', secret: SECRET },
    timeoutMs: 2000,
  };
  return { buyer, server, body, path: `/v1/buyers/${buyer.id}/endpoint` };
}

test('an endpoint is set and read back; its secret is never answered', async () => {
  const { path, body, buyer } = await buyerWithServer();
  const put = await h.http.put(path).set(bearer(adminKey)).send(body);
  expect(put.status).toBe(200);
  expect(put.body.endpoint).toMatchObject({
    buyerId: buyer.id,
    pingUrl: body.pingUrl,
    auth: { kind: 'hmac', secretSet: true },
    timeoutMs: 2000,
    status: 'active',
  });
  const got = await h.http.get(path).set(bearer(adminKey));
  expect(got.body).toEqual(put.body);
  expect(JSON.stringify(got.body)).not.toContain(SECRET);

  // Saved again without the secret: the stored one is kept.
  const again = await h.http
    .put(path)
    .set(bearer(adminKey))
    .send({ ...body, auth: { kind: 'hmac' }, status: 'paused', pauseReason: 'holiday' });
  expect(again.body.endpoint).toMatchObject({
    auth: { secretSet: true },
    status: 'paused',
    pauseReason: 'holiday',
    pausedBy: 'agency',
  });
});

test('a template that reads a hidden field into a ping, and bad rules, are a 400 naming the field and the position', async () => {
  const { path, body } = await buyerWithServer();
  const res = await h.http
    .put(path)
    .set(bearer(adminKey))
    .send({
      ...body,
      pingTemplate: { zip: '{{zip}}', contact: 'call {{phone}}' },
      pingRules: { bid: { jsonata: 'price * ' }, accepted: { path: 'a..b' } },
    });
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body.code).toBe('validation_failed');
  expect(res.body.errors).toEqual([
    {
      in: 'body',
      path: 'pingTemplate.contact',
      message: expect.stringMatching(/a ping may not read "phone"/),
      position: 7,
    },
    { in: 'body', path: 'pingRules.accepted.path', message: expect.any(String), position: 2 },
    {
      in: 'body',
      path: 'pingRules.bid.jsonata',
      message: expect.stringMatching(/^JSONata: /),
      position: expect.any(Number),
    },
  ]);
  expect((await h.http.get(path).set(bearer(adminKey))).body).toEqual({ endpoint: null }); // nothing saved
});

test('a ping URL needs its template and rules; hmac needs a whsec_ key; a new endpoint needs its secret', async () => {
  const { path, body } = await buyerWithServer();
  const { pingRules: _r, ...noRules } = body;
  const cases: [object, string][] = [
    [noRules, 'pingRules'],
    [{ ...body, auth: { kind: 'hmac', secret: 'plain-text' } }, 'auth.secret'],
    [{ ...body, auth: { kind: 'hmac' } }, 'auth.secret'],
    [{ ...body, auth: { kind: 'basic', secret: 'pw' } }, 'auth.username'],
    [{ ...body, timeoutMs: 20_000 }, 'timeoutMs'],
  ];
  for (const [sent, field] of cases) {
    const res = await h.http.put(path).set(bearer(adminKey)).send(sent);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe(field);
  }
});

test('a status query is set and read back with the endpoint; its URL and rules go together, and bad rules or a template reading a lead field are a 400 naming the field', async () => {
  const { path, body, server } = await buyerWithServer();
  const statusQuery = {
    statusUrl: server.statusUrl,
    statusMethod: 'GET',
    statusTemplate: { ref: '{{idempotencyKey}}', lead: '{{leadId}}' },
    statusRules: { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } },
  };
  const put = await h.http
    .put(path)
    .set(bearer(adminKey))
    .send({ ...body, ...statusQuery });
  expect(put.status).toBe(200);
  expect(put.body.endpoint).toMatchObject({ ...statusQuery, auth: { secretSet: true } });
  expect((await h.http.get(path).set(bearer(adminKey))).body).toEqual(put.body);
  expect(JSON.stringify(put.body)).not.toContain(SECRET);

  const { statusRules: _r, ...noRules } = statusQuery;
  const { statusUrl: _u, ...noUrl } = statusQuery;
  const cases: [object, string, RegExp][] = [
    [noRules, 'statusRules', /required with a status URL/],
    [noUrl, 'statusUrl', /required with status rules/],
    [{ ...statusQuery, statusRules: { accepted: { path: 'a..b' } } }, 'statusRules.accepted.path', /./],
    [{ ...statusQuery, statusRules: { reason: { jsonata: 'reason * ' } } }, 'statusRules.reason.jsonata', /^JSONata/],
    [{ ...statusQuery, statusTemplate: { who: '{{phone}}' } }, 'statusTemplate.who', /may read only idempotencyKey/],
    [{ ...statusQuery, statusTemplate: { nested: { ref: '{{idempotencyKey}}' } } }, 'statusTemplate.nested', /flat/],
    [{ ...statusQuery, statusMethod: 'PUT' }, 'statusMethod', /./],
  ];
  for (const [sent, field, message] of cases) {
    const res = await h.http
      .put(path)
      .set(bearer(adminKey))
      .send({ ...body, ...sent });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ path: field, message: expect.stringMatching(message) });
  }
  // Removed: the endpoint has no status query again.
  const cleared = await h.http.put(path).set(bearer(adminKey)).send(body);
  expect(cleared.body.endpoint).toMatchObject({ statusUrl: null, statusTemplate: null, statusRules: null });
});

test('a private address is refused when set, unless allowed', async () => {
  const strict = await h.startInstance({ webhookAllowlist: '' });
  const { path, body } = await buyerWithServer();
  const res = await strict.http.put(path).set(bearer(adminKey)).send(body);
  expect(res.status).toBe(400);
  expect(res.body.errors[0]).toMatchObject({ path: 'pingUrl' });
});

test('"test endpoint" pings and posts a sample lead and answers the mapped request and the parsed answer; the log masks the secret', async () => {
  const { path, body, server } = await buyerWithServer(BEHAVIOURS.bid(42));
  await h.http.put(path).set(bearer(adminKey)).send(body).expect(200);

  const res = await h.http.post(`${path}/test`).set(bearer(adminKey)).send({ post: true });
  expect(res.status).toBe(200);
  expect(res.body.ping).toMatchObject({ outcome: 'accepted', bid: 42, pingId: 'p-1' });
  expect(JSON.parse(res.body.ping.request.body)).toEqual({ zip_code: '78701', state: 'TX', roof_age: 15 });
  expect(res.body.ping.request.headers['webhook-signature']).toBe('••••');
  expect(res.body.ping.response).toEqual({ status: 200, body: expect.stringContaining('"bid":42') });
  expect(res.body.post).toMatchObject({ outcome: 'accepted' });
  expect(JSON.parse(res.body.post.request.body)).toMatchObject({ ping_id: 'p-1', first_name: 'Sam' });

  // What the buyer received is signed, per Standard Webhooks.
  const [ping] = server.received;
  expect(() => new Webhook(SECRET).verify(ping!.body, ping!.headers as Record<string, string>)).not.toThrow();

  const log = await h.http.get(`${path}/calls`).set(bearer(adminKey));
  expect(log.status).toBe(200);
  expect(log.body.calls.map((c: { kind: string; step: string }) => `${c.kind}:${c.step}`)).toEqual([
    'test:post',
    'test:ping',
  ]);
  expect(JSON.stringify(log.body)).not.toContain(SECRET.slice(6));
});

test('the test of an endpoint whose answer the rules cannot read says so, and never pauses it', async () => {
  const { path, body } = await buyerWithServer(BEHAVIOURS.malformed());
  await h.http.put(path).set(bearer(adminKey)).send(body).expect(200);
  for (let i = 0; i < 6; i++) {
    const res = await h.http.post(`${path}/test`).set(bearer(adminKey)).send({});
    expect(res.body).toMatchObject({ ping: { outcome: 'malformed', bid: null }, post: null });
  }
  const got = await h.http.get(path).set(bearer(adminKey));
  expect(got.body.endpoint).toMatchObject({ status: 'active', consecutiveFailures: 0 });
});

test('another agency’s buyer is a 404, and removing an endpoint removes its log', async () => {
  const { path, body } = await buyerWithServer();
  const other = await apiAgency(h);
  expect((await h.http.put(path).set(bearer(other.adminKey)).send(body)).status).toBe(404);
  await h.http.put(path).set(bearer(adminKey)).send(body).expect(200);
  await h.http.post(`${path}/test`).set(bearer(adminKey)).send({}).expect(200);
  expect((await h.http.delete(path).set(bearer(adminKey))).body).toEqual({ deleted: true });
  expect((await h.http.get(`${path}/calls`).set(bearer(adminKey))).body).toEqual({ calls: [] });
  expect((await h.http.get(path).set(bearer(adminKey))).body).toEqual({ endpoint: null });
  expect((await h.http.get(path).set(bearer(other.adminKey))).status).toBe(404); // not its buyer
});

test('the buyer list filters by endpoint: only the agency’s buyers with one (set), or without (none)', async () => {
  const own = await apiAgency(h);
  const { buyer: withOne } = await apiBuyer(h, own.adminKey);
  const { buyer: without } = await apiBuyer(h, own.adminKey);
  const server = await fleet.add(BEHAVIOURS.bid(42));
  await h.http
    .put(`/v1/buyers/${withOne.id}/endpoint`)
    .set(bearer(own.adminKey))
    .send({ ...FLEET_SETTINGS, pingUrl: server.pingUrl, postUrl: server.postUrl, auth: { kind: 'none' } })
    .expect(200);
  const ids = async (q: string) =>
    ((await h.http.get(`/v1/buyers${q}`).set(bearer(own.adminKey)).expect(200)).body.buyers as { id: string }[]).map(
      (b) => b.id,
    );
  expect(await ids('?endpoint=set')).toEqual([withOne.id]);
  expect(await ids('?endpoint=none')).toEqual([without.id]);
  expect((await ids('')).sort()).toEqual([withOne.id, without.id].sort());
  const bad = await h.http.get('/v1/buyers?endpoint=yes').set(bearer(own.adminKey));
  expect(bad.status).toBe(400);
  await h.http.delete(`/v1/buyers/${withOne.id}/endpoint`).set(bearer(own.adminKey)).expect(200);
  expect(await ids('?endpoint=set')).toEqual([]);
});
