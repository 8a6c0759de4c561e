/**
 * The mapping and rule language of buyer endpoints (#22): templates render the
 * buyer's names, a ping never reads a hidden field, bad templates and rules are
 * refused naming the field and the error position, answers are read into a
 * bid, a refusal with its reason, or malformed – and logs mask secrets.
 */
import { readAnswer, renderTemplate, rulesIssues, SAMPLE_LEAD, templateIssues } from '../../domain/endpoint-mapping';
import { maskHeaders, redactBody } from '../../domain/endpoints';

describe('templates', () => {
  test('a whole-string placeholder keeps its type, text interpolates, filters apply, a missing value drops the key', () => {
    const out = renderTemplate(
      {
        zip: '{{zip}}',
        where: '{{city}}, {{state|lower}}',
        age: '{{answers.roof_age|number}}',
        phone: '{{phone|digits}}',
        missing: '{{address}}',
        nested: { owner: '{{answers.homeowner}}', fixed: 'web' },
      },
      'post',
      { fields: { ...SAMPLE_LEAD, address: undefined }, leadId: 'L1' },
    );
    expect(out).toEqual({
      zip: '78701',
      where: 'Austin, tx',
      age: 15,
      phone: '12025550143',
      nested: { owner: true, fixed: 'web' },
    });
  });

  test('a template that reads a hidden field into a ping is refused, naming the field and the position', () => {
    expect(templateIssues({ zip: '{{zip}}', contact: 'call {{ phone }}' }, 'ping', 'json')).toEqual([
      {
        path: 'contact',
        message: expect.stringMatching(/^a ping may not read "phone"/),
        position: 8,
      },
    ]);
    for (const hidden of ['firstName', 'lastName', 'email', 'address', 'leadId'])
      expect(templateIssues({ x: `{{${hidden}}}` }, 'ping', 'json')).toHaveLength(1);
    expect(templateIssues({ x: '{{answers.roof_age}}', y: '{{city}}' }, 'ping', 'json')).toEqual([]);
  });

  test('even a template that slipped through renders a ping from the ping preview only', () => {
    const out = renderTemplate({ zip: '{{zip}}', phone: '{{phone}}', name: 'x {{firstName}}' }, 'ping', {
      fields: SAMPLE_LEAD,
    });
    expect(out).toEqual({ zip: '78701', name: 'x ' });
  });

  test('unknown fields and filters, unclosed braces and non-flat form templates are refused with positions', () => {
    expect(templateIssues({ a: 'zip: {{zipp}}' }, 'post', 'json')).toEqual([
      { path: 'a', message: 'unknown field "zipp"', position: 7 },
    ]);
    expect(templateIssues({ a: { b: ['{{zip|shout}}'] } }, 'post', 'json')).toEqual([
      { path: 'a.b.0', message: expect.stringMatching(/^unknown filter "shout"/), position: 6 },
    ]);
    expect(templateIssues({ a: 'ok {{zip' }, 'post', 'json')).toEqual([
      { path: 'a', message: 'a placeholder opened with {{ is not closed with }}', position: 3 },
    ]);
    expect(templateIssues({ a: { b: 1 } }, 'post', 'form')).toEqual([
      { path: 'a', message: expect.stringMatching(/flat/), position: 0 },
    ]);
  });
});

describe('the status query (#22 item 4)', () => {
  test('its template reads only the post’s key, lead id and ping id – never a field of the lead', () => {
    expect(
      templateIssues({ ref: '{{idempotencyKey}}', lead: '{{leadId}}', ping: 'p-{{pingId|upper}}' }, 'status', 'form'),
    ).toEqual([]);
    expect(templateIssues({ who: '{{phone}}', zip: '{{zip}}', bid: '{{bid}}' }, 'status', 'form')).toEqual([
      { path: 'who', message: expect.stringMatching(/may read only idempotencyKey, leadId, pingId/), position: 2 },
      { path: 'zip', message: expect.stringMatching(/not "zip"/), position: 2 },
      { path: 'bid', message: expect.stringMatching(/not "bid"/), position: 2 },
    ]);
    // A post may not read the key: it is the header's.
    expect(templateIssues({ ref: '{{idempotencyKey}}' }, 'post', 'json')).toEqual([
      expect.objectContaining({ path: 'ref', message: 'unknown field "idempotencyKey"' }),
    ]);
  });

  test('it renders the values and nothing of the lead, and its answer is read as a post’s (no bid needed)', async () => {
    const values = { fields: SAMPLE_LEAD, leadId: 'l-1', pingId: 'p-1', idempotencyKey: 'sale:o:b' };
    expect(
      renderTemplate({ ref: '{{idempotencyKey}}', lead: '{{leadId}}', who: '{{phone}}' }, 'status', values),
    ).toEqual({ ref: 'sale:o:b', lead: 'l-1' });
    const rules = { accepted: { path: 'status', equals: 'accepted' }, reason: { path: 'reason' } };
    expect(rulesIssues(rules, 'status')).toEqual([]);
    expect(await readAnswer(rules, 'status', { status: 200, body: '{"status":"accepted"}' })).toEqual({
      outcome: 'accepted',
      bid: null,
      pingId: null,
    });
    expect(await readAnswer(rules, 'status', { status: 200, body: '{"status":"no","reason":"dup"}' })).toEqual({
      outcome: 'rejected',
      reason: 'dup',
    });
    expect(await readAnswer(rules, 'status', { status: 503, body: '' })).toMatchObject({ outcome: 'error' });
  });
});

describe('rules', () => {
  const ping = {
    accepted: { path: 'result.status', equals: 'ok' },
    bid: { path: '$.result.price' },
    pingId: { path: 'result.id' },
    reason: { path: 'message' },
  };

  test('a bid, its ping id, and a refusal with the buyer’s reason', async () => {
    const ok = { status: 200, body: '{"result":{"status":"ok","price":"37.9","id":"P-9"}}' };
    expect(await readAnswer(ping, 'ping', ok)).toEqual({ outcome: 'accepted', bid: 37, pingId: 'P-9' });
    const no = { status: 200, body: '{"result":{"status":"no"},"message":"cap reached"}' };
    expect(await readAnswer(ping, 'ping', no)).toEqual({ outcome: 'rejected', reason: 'cap reached' });
    expect(await readAnswer(ping, 'ping', { status: 404, body: '{"message":"unknown campaign"}' })).toEqual({
      outcome: 'rejected',
      reason: 'unknown campaign',
    });
    expect(await readAnswer(ping, 'ping', { status: 503, body: '' })).toEqual({ outcome: 'error', reason: 'HTTP 503' });
  });

  test('JSONata expressions, with the HTTP status bound as $status', async () => {
    const rules = {
      accepted: { jsonata: '$status = 200 and decision in ["buy", "maybe"]' },
      bid: { jsonata: 'offers[0].amount * 100' },
      reason: { jsonata: '"declined: " & why' },
    };
    const body = JSON.stringify({ decision: 'buy', offers: [{ amount: 0.42 }] });
    expect(await readAnswer(rules, 'ping', { status: 200, body })).toMatchObject({ outcome: 'accepted', bid: 42 });
    const declined = JSON.stringify({ decision: 'pass', why: 'too far' });
    expect(await readAnswer(rules, 'ping', { status: 200, body: declined })).toEqual({
      outcome: 'rejected',
      reason: 'declined: too far',
    });
  });

  test('an accepted ping without a readable bid, and a body that is not JSON, are malformed', async () => {
    expect(await readAnswer(ping, 'ping', { status: 200, body: '{"result":{"status":"ok"}}' })).toMatchObject({
      outcome: 'malformed',
    });
    expect(await readAnswer(ping, 'ping', { status: 200, body: '{"result":' })).toEqual({
      outcome: 'malformed',
      reason: 'the answer is not JSON',
    });
    expect(
      await readAnswer(ping, 'ping', { status: 200, body: '{"result":{"status":"ok","price":-3}}' }),
    ).toMatchObject({ outcome: 'malformed' });
  });

  test('a post is accepted by status alone when the rules say nothing more', async () => {
    expect(await readAnswer({}, 'post', { status: 201, body: 'thanks' })).toEqual({
      outcome: 'accepted',
      bid: null,
      pingId: null,
    });
  });

  test('bad paths and JSONata are refused naming the field and the position; ping rules need a bid', () => {
    expect(rulesIssues({ bid: { path: 'result..price' } }, 'ping')).toEqual([
      { path: 'bid.path', message: 'expected a name or an [index]', position: 7 },
    ]);
    expect(rulesIssues({ bid: { path: 'a b' } }, 'ping')[0]).toMatchObject({ path: 'bid.path', position: 1 });
    const [bad] = rulesIssues({ bid: { path: 'x' }, accepted: { jsonata: 'status = ' } }, 'ping');
    expect(bad).toMatchObject({ path: 'accepted.jsonata', message: expect.stringMatching(/^JSONata: /) });
    expect(bad!.position).toBeGreaterThanOrEqual(7);
    expect(rulesIssues({}, 'ping')).toEqual([{ path: 'bid', message: expect.any(String), position: 0 }]);
    expect(rulesIssues({}, 'post')).toEqual([]);
  });
});

describe('logs', () => {
  test('secrets in headers are masked, the scheme kept; answers are redacted and truncated', () => {
    expect(
      maskHeaders(
        { Authorization: 'Basic dXNlcjpwYXNz', 'X-Api-Key': 'k-123', 'X-Other': 'has k-123 inside', Accept: 'json' },
        { tokenHeader: 'x-api-key', secret: 'k-123' },
      ),
    ).toEqual({ Authorization: 'Basic ••••', 'X-Api-Key': '••••', 'X-Other': 'has •••• inside', Accept: 'json' });
    expect(redactBody('{"token":"abc","bid":3,"nested":{"api_key":"z"}}')).toBe(
      '{"token":"••••","bid":3,"nested":{"api_key":"••••"}}',
    );
    const long = redactBody('x'.repeat(5000));
    expect(long).toHaveLength(2049);
    expect(long.endsWith('…')).toBe(true);
  });
});
