/** The pure rules behind issue 6: SSRF addresses, the auction ranking, return rules, self-service limits, payload mapping, distributions. */
import { claimOutcomeOf } from '../../claims/vocabulary';
import { checkBid, rankBids } from '../../domain/auction';
import { applyFieldMapping, type DeliveryPayload } from '../../domain/delivery';
import { checkEligibility } from '../../domain/eligibility';
import { addressRefusal, allowListed, isBlockedAddress, parseAllowList } from '../../domain/net';
import { checkReturn } from '../../domain/returns';
import { selfServiceProblems } from '../../domain/self-service';
import { distribution } from '../../domain/stats';

describe('SSRF address rules', () => {
  test.each([
    '127.0.0.1',
    '10.0.0.5',
    '172.16.3.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc12:3456::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '64:ff9b::a00:1',
    '2002:a00:1::',
    '[::1]',
    'fe80::1%eth0',
    'nonsense',
  ])('%s is blocked', (ip) => expect(isBlockedAddress(ip)).toBe(true));
  test.each(['8.8.8.8', '203.0.114.10', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (ip) =>
    expect(isBlockedAddress(ip)).toBe(false),
  );

  test('the allow-list opens hosts, IPs and CIDRs (IPv4-mapped forms included)', () => {
    const list = parseAllowList(' 127.0.0.1, Hooks.Internal ,10.1.0.0/16, ::1, bad/99 ');
    expect(allowListed(list, 'hooks.internal', '10.9.9.9')).toBe(true);
    expect(allowListed(list, 'x', '10.1.200.3')).toBe(true);
    expect(allowListed(list, 'x', '::ffff:10.1.0.7')).toBe(true);
    expect(allowListed(list, 'x', '10.2.0.1')).toBe(false);
    expect(addressRefusal(list, 'localhost', '127.0.0.1')).toBeNull();
    expect(addressRefusal(list, 'localhost', '127.0.0.2')).toMatch(/loopback/);
    expect(addressRefusal(parseAllowList(''), 'example.com', '93.184.216.34')).toBeNull();
  });
});

describe('highest-bid ranking', () => {
  const bids = [
    { buyerId: 'a', amount: 30, seq: 1, requestId: 'r1' },
    { buyerId: 'b', amount: 50, seq: 2, requestId: 'r2' },
    { buyerId: 'c', amount: 50, seq: 3, requestId: 'r3' },
    { buyerId: 'a', amount: 40, seq: 4, requestId: 'r4' },
    { buyerId: 'd', amount: 5, seq: 5, requestId: 'r5' },
  ];
  test('highest first, ties to the earlier, a buyer counted at its latest bid, below-floor bids dropped', () => {
    expect(rankBids(bids, 10, 'first_price').map((b) => [b.buyerId, b.price])).toEqual([
      ['b', 50],
      ['c', 50],
      ['a', 40],
    ]);
  });
  test('second price: the next bid, never below the floor nor above the own bid', () => {
    expect(rankBids(bids, 10, 'second_price').map((b) => [b.buyerId, b.price])).toEqual([
      ['b', 50],
      ['c', 40],
      ['a', 10],
    ]);
    expect(rankBids([{ buyerId: 'x', amount: 80, seq: 1, requestId: 'r' }], 25, 'second_price')[0].price).toBe(25);
  });
  test('a bid must reach the floor and raise the previous one', () => {
    expect(checkBid(9, 10, undefined)).toBe('below_floor');
    expect(checkBid(10.5, 10, undefined)).toBe('below_floor');
    expect(checkBid(20, 10, { buyerId: 'a', amount: 20, seq: 1, requestId: 'r' })).toBe('not_a_raise');
    expect(checkBid(21, 10, { buyerId: 'a', amount: 20, seq: 1, requestId: 'r' })).toBeNull();
  });
});

test('return rules: window, reason codes, rate with this return included', () => {
  const base = {
    soldAt: new Date('2026-01-01T00:00:00Z'),
    now: new Date('2026-01-05T00:00:00Z'),
    reasonCode: 'wrong_number',
    purchases: 10,
    returns: 1,
  };
  expect(checkReturn({ ...base, rules: {} })).toEqual({ ok: true });
  expect(checkReturn({ ...base, rules: { windowDays: 3 } })).toMatchObject({ ok: false, code: 'return_window_closed' });
  expect(checkReturn({ ...base, rules: { allowedReasons: ['duplicate'] } })).toMatchObject({
    ok: false,
    code: 'reason_not_allowed',
  });
  expect(checkReturn({ ...base, rules: { maxReturnRate: 0.2 } })).toEqual({ ok: true });
  expect(checkReturn({ ...base, returns: 2, rules: { maxReturnRate: 0.2 } })).toMatchObject({
    ok: false,
    code: 'return_rate_exceeded',
  });
});

test('self-service limits', () => {
  const limits = { maxCaps: { daily: 10 }, allowedStates: ['TX'], allowedZipPrefixes: ['787'] };
  expect(selfServiceProblems(limits, { caps: { daily: 10 }, states: ['tx'], zipCodes: ['78701'] })).toEqual([]);
  expect(selfServiceProblems(limits, { caps: { weekly: 5 }, zipCodes: ['10001'] }).map((p) => p.path)).toEqual([
    'caps.daily',
    'zipCodes.0',
  ]);
  expect(selfServiceProblems(limits, { states: [], zipCodes: [] }).map((p) => p.path)).toEqual(['states']);
  expect(selfServiceProblems({ enabled: false }, {})).toHaveLength(1);
});

test('field mapping renames, omits and adds without touching the input', () => {
  const payload = {
    event: 'lead.delivered',
    assignmentId: 'x',
    lead: { id: 'l', firstName: 'A', phone: '5551234567', answers: { q: 'y' } },
    consent: null,
  } as unknown as DeliveryPayload;
  const out = applyFieldMapping(payload, {
    rename: { 'lead.phone': 'tel', missing: 'nope' },
    omit: ['lead.answers'],
    static: { src: 'lw' },
  });
  expect(out).toEqual({
    event: 'lead.delivered',
    assignmentId: 'x',
    lead: { id: 'l', firstName: 'A' },
    consent: null,
    tel: '5551234567',
    src: 'lw',
  });
  expect(payload.lead.phone).toBe('5551234567');
});

test('latency distribution', () => {
  const d = distribution([100, 300, 1200, 70_000]);
  expect(d).toMatchObject({ count: 4, min: 100, p50: 300, max: 70_000 });
  expect(d.buckets.find((b) => b.le === 250)?.count).toBe(1);
  expect(d.buckets.at(-1)).toEqual({ le: null, count: 1 });
  expect(distribution([])).toMatchObject({ count: 0, p50: null });
});

test('already_bought excludes after the area check and is a final 403 at claim time', () => {
  const input = {
    buyer: { id: 'b', status: 'active' as const, serviceLines: ['roofing'], zipCodes: [], states: [], caps: {} },
    balance: 100,
    counts: { daily: 0, weekly: 0, monthly: 0 },
    lead: { zip: '78701' },
    serviceLine: 'roofing',
    price: 10,
    campaignPool: null,
    campaignCapReached: null,
  };
  expect(checkEligibility({ ...input, alreadyBought: true })).toMatchObject({
    eligible: false,
    reason: 'already_bought',
  });
  expect(checkEligibility(input)).toEqual({ eligible: true });
  expect(claimOutcomeOf('already_bought')).toMatchObject({ result: 'failed', httpStatus: 403 });
});
