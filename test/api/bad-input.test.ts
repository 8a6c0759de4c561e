/**
 * Bad input never reaches a handler and never becomes a 500: malformed JSON,
 * wrong types, missing or unknown fields, oversized bodies, wrong content
 * types and unknown routes each get their own problem+json, naming the field.
 * A property-based run posts random bodies to every route.
 */
import fc from 'fast-check';

import {
  apiAgency,
  apiBuyer,
  apiCampaign,
  bearer,
  type Harness,
  leadFields,
  ROOT_TOKEN,
  startHarness,
} from './harness';

let h: Harness;
let adminKey: string;
let buyerKey: string;
let campaignId: string;
let buyerId: string;

beforeAll(async () => {
  h = await startHarness();
  ({ adminKey } = await apiAgency(h));
  const b = await apiBuyer(h, adminKey, { credits: 100 });
  buyerKey = b.apiKey;
  buyerId = b.buyer.id;
  campaignId = (await apiCampaign(h, adminKey)).id;
});

afterAll(async () => {
  await h?.close();
});

const isProblem = (res: { headers: Record<string, string> }) =>
  /^application\/problem\+json/.test(res.headers['content-type'] ?? '');
const paths = (res: { body: { errors?: { path: string }[] } }) => (res.body.errors ?? []).map((e) => e.path);

describe('bodies', () => {
  test('malformed JSON is 400 malformed_json', async () => {
    const res = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .set('Content-Type', 'application/json')
      .send('{"name": "x",');
    expect(res.status).toBe(400);
    expect(isProblem(res)).toBe(true);
    expect(res.body).toMatchObject({ code: 'malformed_json', status: 400 });
  });

  test('wrong types name each field', async () => {
    const res = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .send({ name: 5, serviceLines: 'roofing', caps: { daily: -1 } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(paths(res)).toEqual(expect.arrayContaining(['name', 'serviceLines', 'caps.daily']));
  });

  test('missing fields are named as required', async () => {
    const res = await h.http
      .post('/v1/leads')
      .set(bearer(adminKey))
      .send({ campaignId, fields: { firstName: 'Ada' } });
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(
      expect.arrayContaining(['fields.lastName', 'fields.phone', 'fields.email', 'fields.zip']),
    );
    expect(res.body.errors.find((e: { path: string }) => e.path === 'fields.zip').message).toMatch(/required/);
  });

  test('no body at all on a route that needs one names the fields', async () => {
    const res = await h.http.post('/v1/service-lines').set(bearer(adminKey));
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(expect.arrayContaining(['key', 'name']));
  });

  test('unknown fields are refused by name, at any depth', async () => {
    const top = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .send({ name: 'x', serviceLines: [], colour: 'red' });
    expect(top.status).toBe(400);
    expect(top.body.errors).toContainEqual({ in: 'body', path: 'colour', message: 'unknown field' });
    const deep = await h.http
      .post('/v1/leads')
      .set(bearer(adminKey))
      .send({ campaignId, fields: { ...leadFields(), ssn: '123-45-6789' } });
    expect(deep.status).toBe(400);
    expect(paths(deep)).toEqual(['fields.ssn']);
  });

  test('prototype-polluting keys are refused, not applied', async () => {
    const body = `{"name":"x","serviceLines":[],"__proto__":{"isAdmin":true}}`;
    const res = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.status).toBe(400);
    expect(paths(res)).toEqual(['__proto__']);
    const answers = `{"campaignId":"${campaignId}","fields":${JSON.stringify(leadFields()).replace('"answers":{', '"answers":{"__proto__":"x",')}}`;
    const lead = await h.http
      .post('/v1/leads')
      .set(bearer(adminKey))
      .set('Content-Type', 'application/json')
      .send(answers);
    expect(lead.status).toBe(400);
    expect(paths(lead)).toEqual(['fields.answers.__proto__']);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  test('strings Postgres cannot store (NUL, lone surrogates) are 400, not 500', async () => {
    const nul = await h.http.post('/v1/buyers').set(bearer(adminKey)).send({ name: 'a\u0000b', serviceLines: [] });
    expect(nul.status).toBe(400);
    expect(paths(nul)).toEqual(['name']);
    const surrogate = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .set('Content-Type', 'application/json')
      .send('{"name":"a\\ud800b","serviceLines":[]}');
    expect(surrogate.status).toBe(400);
    expect(paths(surrogate)).toEqual(['name']);
  });

  test('a body over 1 MiB is 413 payload_too_large', async () => {
    const res = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .send({ name: 'x', serviceLines: [], pad: 'x'.repeat(1024 * 1024 + 10) });
    expect(res.status).toBe(413);
    expect(isProblem(res)).toBe(true);
    expect(res.body.code).toBe('payload_too_large');
  });

  test('a body that is not JSON is 415', async () => {
    const text = await h.http.post('/v1/buyers').set(bearer(adminKey)).set('Content-Type', 'text/plain').send('name=x');
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('unsupported_media_type');
    const form = await h.http.post('/v1/buyers').set(bearer(adminKey)).type('form').send({ name: 'x' });
    expect(form.status).toBe(415);
  });

  test('a JSON array or scalar where an object belongs is a validation error', async () => {
    const res = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .set('Content-Type', 'application/json')
      .send('[1,2]');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
  });

  test('semantic checks name the field too: unknown service line, bad price rules, unknown preview field', async () => {
    const buyer = await h.http
      .post('/v1/buyers')
      .set(bearer(adminKey))
      .send({ name: 'x', serviceLines: ['roofing', 'plumbing'] });
    expect(buyer.status).toBe(400);
    expect(paths(buyer)).toEqual(['serviceLines.1']);
    const price = await h.http
      .post('/v1/campaigns')
      .set(bearer(adminKey))
      .send({
        name: 'c',
        serviceLine: 'roofing',
        mode: 'ping_post',
        price: { base: 10, zipTiers: [{ zips: ['12a45'], price: 5 }] },
      });
    expect(price.status).toBe(400);
    expect(paths(price)).toContain('price.zipTiers.0.zips.0');
    const preview = await h.http
      .post('/v1/campaigns')
      .set(bearer(adminKey))
      .send({
        name: 'c',
        serviceLine: 'roofing',
        mode: 'ping_post',
        price: { base: 10 },
        previewFields: ['zip', 'ssn'],
      });
    expect(preview.status).toBe(400);
    expect(paths(preview)).toEqual(['previewFields.1']);
    const tz = await h.http.post('/v1/agencies').set(bearer(ROOT_TOKEN)).send({ name: 'x', timeZone: 'Mars/Olympus' });
    expect(tz.status).toBe(400);
    expect(paths(tz)).toEqual(['timeZone']);
  });

  test('a campaign cannot fall back to itself; a foreign fallback or pool buyer is 404', async () => {
    const self = await h.http
      .patch(`/v1/campaigns/${campaignId}`)
      .set(bearer(adminKey))
      .send({ fallbackCampaignId: campaignId });
    expect(self.status).toBe(400);
    expect(paths(self)).toEqual(['fallbackCampaignId']);
    const other = await apiAgency(h);
    const foreign = await apiCampaign(h, other.adminKey);
    const fb = await h.http
      .patch(`/v1/campaigns/${campaignId}`)
      .set(bearer(adminKey))
      .send({ fallbackCampaignId: foreign.id });
    expect(fb.status).toBe(404);
    expect(paths(fb)).toEqual(['fallbackCampaignId']);
    const twice = await h.http
      .patch(`/v1/campaigns/${campaignId}`)
      .set(bearer(adminKey))
      .send({ buyerIds: [buyerId, buyerId] });
    expect(twice.status).toBe(400);
    expect(paths(twice)).toEqual(['buyerIds.1']);
  });
});

describe('paths, queries and headers', () => {
  test('an unknown route is 404 problem+json', async () => {
    for (const res of [
      await h.http.get('/v1/nope'),
      await h.http.post('/v1/agencies/x').send({}),
      await h.http.delete('/v1/buyers'),
    ]) {
      expect(res.status).toBe(404);
      expect(isProblem(res)).toBe(true);
      expect(res.body.code).toBe('route_not_found');
    }
  });

  test('a malformed id is 400 naming the path parameter', async () => {
    const res = await h.http.get('/v1/buyers/not-a-uuid').set(bearer(adminKey));
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ in: 'params', path: 'id' })]);
    const bad = await h.http.get('/v1/buyers/%E0%A4%A').set(bearer(adminKey));
    expect(bad.status).toBeLessThan(500);
  });

  test('bad query parameters are named', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'limit=1&limit=2']) {
      const res = await h.http.get(`/v1/leads?${q}`).set(bearer(adminKey));
      expect(res.status).toBe(400);
      expect(paths(res)).toEqual(['limit']);
    }
    const unknown = await h.http.get('/v1/leads?colour=red').set(bearer(adminKey));
    expect(unknown.status).toBe(400);
    expect(paths(unknown)).toEqual(['colour']);
    const status = await h.http.get('/v1/leads?status=lost').set(bearer(adminKey));
    expect(paths(status)).toEqual(['status']);
    const cursor = await h.http.get('/v1/leads?cursor=bm9wZQ').set(bearer(adminKey));
    expect(cursor.status).toBe(400);
    expect(paths(cursor)).toEqual(['cursor']);
  });

  test('a bad Idempotency-Key is 400', async () => {
    const res = await h.http
      .post(`/v1/buyers/${buyerId}/credits`)
      .set(bearer(adminKey))
      .set('Idempotency-Key', 'k'.repeat(300))
      .send({ amount: 1 });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ in: 'header', path: 'Idempotency-Key' })]);
  });

  test('lists page with an opaque cursor, without gaps or repeats', async () => {
    const { adminKey: key } = await apiAgency(h);
    for (let i = 0; i < 6; i++)
      await h.http
        .post('/v1/service-lines')
        .set(bearer(key))
        .send({ key: `line-${i}`, name: `Line ${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { serviceLines: { key: string }[]; nextCursor: string | null } } = await h.http
        .get(`/v1/service-lines?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
        .set(bearer(key));
      expect(res.status).toBe(200);
      seen.push(...res.body.serviceLines.map((s) => s.key));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(['line-0', 'line-1', 'line-2', 'line-3', 'line-4', 'line-5', 'roofing']);
  });
});

const safeEncode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80'; // a lone surrogate, %-encoded: malformed UTF-8
  }
};

describe('random input', () => {
  const FIELD_NAMES = [
    '__proto__',
    'constructor',
    'prototype',
    'name',
    'fields',
    'campaignId',
    'amount',
    'serviceLines',
    'price',
    'base',
    'reason',
    'requestId',
    'approve',
    'buyerId',
    'status',
    'answers',
    'zip',
    'key',
    'mode',
    'caps',
    'daily',
    'buyers',
  ];
  const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  const nasty = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    loneSurrogate,
    fc.constant('\u0000'),
    fc.constant('x'.repeat(100_000)),
    fc.uuid(),
  );
  const scalar = fc.oneof(
    nasty.map((s) => JSON.stringify(s)),
    fc.integer().map(String),
    fc.constantFrom('1e308', '-0', '2147483648', '9007199254740993', '0.5', '-1'),
    fc.constantFrom('true', 'false', 'null'),
  );
  const { value: jsonText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    object: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELD_NAMES), nasty), tie('value')), { maxLength: 5 })
      .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  }));
  const deep = fc.integer({ min: 100, max: 100_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
  const deepObject = fc.integer({ min: 100, max: 20_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
  const body = fc.oneof(
    { weight: 6, arbitrary: jsonText },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: deepObject },
    { weight: 1, arbitrary: nasty },
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/merge-patch+json',
    'application/json; charset=latin1',
  );

  test('no random body, query or id on any route is answered with a 5xx', async () => {
    const routes = h.main.api.routes;
    const id = fc.oneof(
      fc.constantFrom(campaignId, buyerId),
      fc.uuid(),
      nasty.map((s) => safeEncode(s).slice(0, 200)),
      fc.constantFrom('%E0%A4%A', '%', '%00', '..%2F..', '%ED%A0%80'),
    );
    const query = fc.dictionary(
      fc.constantFrom('limit', 'cursor', 'status', 'campaignId', 'buyerId', 'mode', '__proto__', 'x'),
      nasty.map((s) => s.slice(0, 200)),
      { maxKeys: 3 },
    );
    const key = fc.constantFrom(adminKey, buyerKey, ROOT_TOKEN, null);
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        id,
        query,
        body,
        contentType,
        key,
        async (route, idValue, q, text, type, k) => {
          const url =
            route.path.replace(':id', idValue) + '?' + new URLSearchParams(q as Record<string, string>).toString();
          let req = h.http[route.method](url).set('Content-Type', type);
          if (k) req = req.set(bearer(k));
          const res = await (route.method === 'get' ? req : req.send(text));
          requests++;
          if (res.status >= 500 && route.path !== '/readyz')
            throw new Error(`${route.method} ${url} → ${res.status} ${JSON.stringify(res.body)}`);
          if (res.status >= 400 && typeof res.body?.result !== 'string') expect(isProblem(res)).toBe(true);
        },
      ),
      { numRuns: 250 },
    );
    expect(requests).toBe(250);
    // The process is still serving.
    expect((await h.http.get('/healthz')).status).toBe(200);
  }, 120_000);

  test('valid bodies with one field replaced by junk never get a 5xx', async () => {
    const samples: [string, string, object][] = [
      [
        'post',
        '/v1/buyers',
        {
          name: 'b',
          serviceLines: ['roofing'],
          zipCodes: ['78701'],
          caps: { daily: 3 },
          delivery: { email: 'a@example.com' },
        },
      ],
      [
        'post',
        '/v1/campaigns',
        {
          name: 'c',
          serviceLine: 'roofing',
          mode: 'ping_post',
          price: { base: 10, multipliers: { roofing: 1.5 } },
          previewFields: ['zip'],
        },
      ],
      [
        'patch',
        `/v1/campaigns/${campaignId}`,
        { claimWindowSeconds: 30, price: { base: 10 }, buyers: [{ buyerId, weight: 2 }] },
      ],
      ['patch', `/v1/buyers/${buyerId}`, { status: 'active', states: ['TX'] }],
      ['post', `/v1/buyers/${buyerId}/credits`, { amount: 1, reference: 'inv-1' }],
      ['post', '/v1/leads', { campaignId, fields: leadFields() }],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...samples), fc.nat(), jsonText, async ([method, path, valid], pick, junk) => {
        const keys = Object.keys(valid);
        const field = keys[pick % keys.length]!;
        const text = JSON.stringify({ ...valid, [field]: '__JUNK__' }).replace('"__JUNK__"', junk);
        const res = await h.http[method as 'post' | 'patch'](path)
          .set(bearer(adminKey))
          .set('Content-Type', 'application/json')
          .send(text);
        if (res.status >= 500)
          throw new Error(
            `${method} ${path} with ${field}=${junk.slice(0, 200)} → ${res.status} ${JSON.stringify(res.body)}`,
          );
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
