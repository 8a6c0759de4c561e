/**
 * The authorization matrix: every route × every kind of caller × every role
 * (#20). Ids of another agency are 404 (never 403); a caller whose role may
 * not call a route is 403 whatever the id; no key or a bad key is 401.
 *
 * What each role may do is written here once more, in words of routes,
 * independently of api/authorization.ts: the table and this test must agree.
 */
import { ProblemSchema } from '../../api/schemas';
import { createApiKey } from '../../db/keys';
import { bearer, connectFeed, type Harness, leadFields, ROOT_TOKEN, startHarness, unique } from './harness';
import { buildWorld, type World } from './world';

type Who =
  | 'none'
  | 'wrong'
  | 'root'
  | 'adminA'
  | 'adminB'
  | 'buyerT'
  | 'buyerO'
  | 'buyerF'
  | 'sourceS'
  | 'sourceZ'
  // keys of agency A, buyer T and source S acting as the other roles
  | 'ownerA'
  | 'dispatcherA'
  | 'analystA'
  | 'memberT'
  | 'memberS';
const CALLERS: Who[] = [
  'none',
  'wrong',
  'root',
  'adminB',
  'buyerO',
  'buyerF',
  'sourceZ',
  'buyerT',
  'sourceS',
  'adminA',
  'ownerA',
  'dispatcherA',
  'analystA',
  'memberT',
  'memberS',
];

/** The caller each role's key is compared with: where a role may call a route, it hears what that caller heard. */
const FULL_POWER: Partial<Record<Who, Who>> = {
  ownerA: 'adminA',
  dispatcherA: 'adminA',
  analystA: 'adminA',
  memberT: 'buyerT',
  memberS: 'sourceS',
};

/** A dispatcher: leads, the review queue, offers, disputes, deliveries, and the reads of buyers and campaigns it needs. */
const DISPATCHER_MAY = new Set([
  'GET /v1/me',
  'GET /v1/service-lines',
  'GET /v1/buyers',
  'GET /v1/buyers/:id',
  'GET /v1/campaigns',
  'GET /v1/campaigns/:id',
  'POST /v1/leads',
  'GET /v1/leads',
  'GET /v1/leads/:id',
  'GET /v1/leads/:id/timeline',
  'POST /v1/leads/:id/reoffer',
  'POST /v1/leads/:id/assign',
  'POST /v1/leads/:id/reject',
  'POST /v1/offers/:id/cancel',
  'GET /v1/offers/:id/timeline',
  'GET /v1/offers/:id/eligibility',
  'GET /v1/assignments/:id/deliveries',
  'POST /v1/assignments/:id/redeliver',
  'GET /v1/disputes',
  'GET /v1/disputes/:id',
  'POST /v1/disputes/:id/resolve',
  'GET /v1/suppression',
  'POST /v1/suppression/entries',
  'POST /v1/suppression/search',
]);
/** A buyer's member: Live Leads, claims, bids, pipeline, its leads and disputes, reads of the wallet and ledger. */
const BUYER_MEMBER_MAY = new Set([
  'GET /v1/me',
  'GET /v1/me/wallet',
  'GET /v1/me/ledger',
  'GET /v1/me/statements',
  'GET /v1/me/statements/:month',
  'GET /v1/me/statements/:month.csv',
  'GET /v1/me/leads',
  'GET /v1/offers',
  'POST /v1/offers/:id/claim',
  'POST /v1/offers/:id/bids',
  'GET /v1/offers/:id/eligibility',
  'POST /v1/assignments/:id/disputes',
  'GET /v1/disputes',
  'GET /v1/disputes/:id',
  'GET /v1/me/pipeline',
  'GET /v1/me/alerts',
  'GET /v1/me/billing',
  'GET /v1/me/leads/:id/pipeline',
  'POST /v1/me/leads/:id/pipeline',
  'GET /v1/exports/sales.csv',
  'GET /v1/exports/ledger.csv',
  'GET /v1/me/payments',
  'GET /v1/me/payments/options',
]);
/** Keys are managed by owners (and an agency's admins) only: the analyst's "every GET" stops at them. */
/** Keys and the team are the managers' own: the read-only roles do not read them either. */
const KEY_ROUTES = new Set([
  'GET /v1/keys',
  'POST /v1/keys',
  'POST /v1/keys/:id/revoke',
  'GET /v1/invitations',
  'GET /v1/members',
]);

/** Reads that are the agency's owners' and admins' only: its Stripe settings (#21). */
const MANAGER_READS = new Set(['GET /v1/payments/settings']);

/** Whether a role's key may call a route, in the words of docs/accounts.md "Roles". */
function roleMay(who: Who, c: Case, name: string): boolean {
  switch (who) {
    case 'ownerA':
      return true; // everything an agency admin does (and more, on the routes that tell them apart)
    case 'dispatcherA':
      return DISPATCHER_MAY.has(name);
    case 'analystA':
      return c.method === 'get' && !KEY_ROUTES.has(name) && !MANAGER_READS.has(name); // read-only: every GET
    case 'memberT':
      return BUYER_MEMBER_MAY.has(name);
    case 'memberS':
      return c.method === 'get' && !KEY_ROUTES.has(name); // read-only
    default:
      throw new Error(`not a role key: ${who}`);
  }
}

/** The expected status of every caller: the case's own, else (role keys) the full-power caller's or 403. */
function expected(c: Case): Partial<Record<Who, number>> {
  const name = `${c.method.toUpperCase()} ${c.path}`;
  const out: Partial<Record<Who, number>> = { ...c.expect };
  const isPublic = c.expect.none !== undefined && c.expect.none !== 401;
  for (const [who, full] of Object.entries(FULL_POWER) as [Who, Who][]) {
    if (out[who] !== undefined) continue;
    const fullStatus = c.expect[full];
    if (isPublic) out[who] = c.expect.none;
    else if (fullStatus === undefined || fullStatus === 403) out[who] = 403;
    else out[who] = roleMay(who, c, name) ? fullStatus : 403;
  }
  return out;
}

interface Case {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  url: (w: World) => string;
  body?: (w: World) => object;
  expect: Partial<Record<Who, number>>;
  /** The problem codes of its 401 and 403 when not `unauthorized` and `forbidden` (a person's routes). */
  codes?: { 401?: string; 403?: string };
}

const NO_KEY = { none: 401, wrong: 401 };
/** Distinct numbers for the suppression adds (each caller's add is a new entry). */
let suppressed = Math.floor(Math.random() * 5000);
const DENY_ALL = {
  root: 403,
  adminA: 403,
  adminB: 403,
  buyerT: 403,
  buyerO: 403,
  buyerF: 403,
  sourceS: 403,
  sourceZ: 403,
};
const rootOnly = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, root: ok });
/** An admin route without ids: each admin acts in its own agency. */
const anyAdmin = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, adminA: ok, adminB: ok });
/** An admin route on agency A's resource: B's admin does not find it. */
const adminOfA = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, adminA: ok, adminB: 404 });
const anyBuyer = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, buyerT: ok, buyerO: ok, buyerF: ok });
/** A source route without ids: each source acts as itself. */
const anySource = (ok: number) => ({ ...NO_KEY, ...DENY_ALL, sourceS: ok, sourceZ: ok });
const everyone = (status: number) => ({
  none: status,
  wrong: status,
  root: status,
  adminA: status,
  adminB: status,
  buyerT: status,
  buyerO: status,
  buyerF: status,
  sourceS: status,
  sourceZ: status,
});
/** Every caller, keys of every role included, hears `status`. */
const allCallers = (status: number) => Object.fromEntries(CALLERS.map((who) => [who, status])) as Record<Who, number>;
/** A route for a signed-in person: the cookie opens it; without one 401, with any key 403 `session_required`. */
const sessionOnly = () => ({ ...allCallers(403), none: 401 });
/** The key routes: the organisation's owners (and an agency's admins) manage its own keys, nobody else's. */
const KEY_MANAGERS = { ...NO_KEY, ...DENY_ALL };

/** Every key's kind answers the same. */
const everyKey = (status: number) => {
  const { none: _none, wrong: _wrong, ...keys } = everyone(status);
  return keys;
};
/** A link token and an id nobody issued. */
const NO_SUCH_LINK = 'nObOdYiSsUeDtHiSlInK0123456789abcdefABCDEF0';
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

const CASES: Case[] = [
  {
    method: 'post',
    path: '/v1/agencies',
    url: () => '/v1/agencies',
    body: () => ({ name: unique('agency') }),
    expect: rootOnly(201),
  },
  {
    method: 'get',
    path: '/v1/me',
    url: () => '/v1/me',
    expect: {
      ...NO_KEY,
      root: 200,
      adminA: 200,
      adminB: 200,
      buyerT: 200,
      buyerO: 200,
      buyerF: 200,
      sourceS: 200,
      sourceZ: 200,
    },
  },
  { method: 'get', path: '/v1/me/wallet', url: () => '/v1/me/wallet', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/ledger', url: () => '/v1/me/ledger', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/statements', url: () => '/v1/me/statements', expect: anyBuyer(200) },
  {
    method: 'get',
    path: '/v1/me/statements/:month',
    url: () => '/v1/me/statements/2026-03',
    expect: anyBuyer(200),
  },
  {
    method: 'get',
    path: '/v1/me/statements/:month.csv',
    url: () => '/v1/me/statements/2026-03.csv',
    expect: anyBuyer(200),
  },
  { method: 'get', path: '/v1/me/leads', url: () => '/v1/me/leads', expect: anyBuyer(200) },
  { method: 'patch', path: '/v1/me', url: () => '/v1/me', body: () => ({}), expect: anyBuyer(200) },
  { method: 'get', path: '/v1/settings', url: () => '/v1/settings', expect: anyAdmin(200) },
  { method: 'patch', path: '/v1/settings', url: () => '/v1/settings', body: () => ({}), expect: anyAdmin(200) },
  {
    method: 'post',
    path: '/v1/service-lines',
    url: () => '/v1/service-lines',
    body: () => ({ key: unique('line').toLowerCase(), name: 'A line' }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/service-lines', url: () => '/v1/service-lines', expect: anyAdmin(200) },
  {
    method: 'post',
    path: '/v1/buyers',
    url: () => '/v1/buyers',
    body: () => ({ name: unique('buyer'), serviceLines: [] }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/buyers', url: () => '/v1/buyers', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/buyers/:id', url: (w) => `/v1/buyers/${w.T.buyer.id}`, expect: adminOfA(200) },
  {
    method: 'patch',
    path: '/v1/buyers/:id',
    url: (w) => `/v1/buyers/${w.T.buyer.id}`,
    body: () => ({ name: unique('renamed') }),
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/credits',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/credits`,
    body: () => ({ amount: 1 }),
    expect: adminOfA(201),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/ledger',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/ledger`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/statements',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/statements`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/statements/:month',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/statements/2026-03`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/statements/:month.csv',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/statements/2026-03.csv`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/keys',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/keys`,
    body: () => ({}),
    expect: adminOfA(201),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/webhook-secret',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/webhook-secret`,
    expect: adminOfA(201),
  },
  // A buyer's endpoint: set, read, tested (a URL that does not resolve: the answer says so), its log, removed.
  {
    method: 'put',
    path: '/v1/buyers/:id/endpoint',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/endpoint`,
    body: () => ({ postUrl: 'https://buyer-endpoint.invalid/post', postTemplate: { phone: '{{phone}}' } }),
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/endpoint',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/endpoint`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/buyers/:id/endpoint/test',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/endpoint/test`,
    body: () => ({}),
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/endpoint/calls',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/endpoint/calls`,
    expect: adminOfA(200),
  },
  {
    method: 'delete',
    path: '/v1/buyers/:id/endpoint',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/endpoint`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/changes',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/changes`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/buyers/:id/stats',
    url: (w) => `/v1/buyers/${w.T.buyer.id}/stats`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/campaigns',
    url: () => '/v1/campaigns',
    body: () => ({
      name: unique('campaign'),
      serviceLine: 'roofing',
      mode: 'push',
      price: { base: 1 },
      status: 'paused',
    }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/campaigns', url: () => '/v1/campaigns', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/campaigns/:id', url: (w) => `/v1/campaigns/${w.campaign.id}`, expect: adminOfA(200) },
  {
    method: 'post',
    path: '/v1/campaigns/dry-run',
    url: () => '/v1/campaigns/dry-run',
    body: () => ({ campaign: { serviceLine: 'roofing', price: { base: 1 } }, lastN: 5 }),
    expect: anyAdmin(200),
  },
  {
    method: 'patch',
    path: '/v1/campaigns/:id',
    url: (w) => `/v1/campaigns/${w.campaign.id}`,
    body: () => ({ name: unique('campaign') }),
    expect: adminOfA(200),
  },
  // S may post into A's campaign; Z (agency B) does not find it.
  {
    method: 'post',
    path: '/v1/leads',
    url: () => '/v1/leads',
    body: (w) => ({ campaignId: w.campaign.id, fields: leadFields() }),
    expect: { ...adminOfA(202), sourceS: 202, sourceZ: 404 },
  },
  { method: 'get', path: '/v1/leads', url: () => '/v1/leads', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/leads/:id', url: (w) => `/v1/leads/${w.lead1.id}`, expect: adminOfA(200) },
  {
    method: 'get',
    path: '/v1/leads/:id/timeline',
    url: (w) => `/v1/leads/${w.lead1.id}/timeline`,
    expect: adminOfA(200),
  },
  // lead1 is sold: the owner's admin hears 409 not_in_manual_review, the other agency's 404.
  {
    method: 'post',
    path: '/v1/leads/:id/reoffer',
    url: (w) => `/v1/leads/${w.lead1.id}/reoffer`,
    body: () => ({}),
    expect: adminOfA(409),
  },
  {
    method: 'post',
    path: '/v1/leads/:id/assign',
    url: (w) => `/v1/leads/${w.lead1.id}/assign`,
    body: (w) => ({ buyerId: w.T.buyer.id }),
    expect: adminOfA(409),
  },
  {
    method: 'post',
    path: '/v1/leads/:id/reject',
    url: (w) => `/v1/leads/${w.lead1.id}/reject`,
    body: () => ({ reason: 'spam' }),
    expect: adminOfA(409),
  },
  { method: 'get', path: '/v1/offers', url: () => '/v1/offers', expect: anyBuyer(200) },
  // T already won offer1 (same answer again), O was excluded (403 not_targeted), F is of another agency.
  {
    method: 'post',
    path: '/v1/offers/:id/claim',
    url: (w) => `/v1/offers/${w.offer1.id}/claim`,
    body: () => ({}),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 200, buyerO: 403, buyerF: 404 },
  },
  // offer1 is a first-claim offer: T (targeted) hears 409 not_an_auction, O (excluded) 403 not_targeted, F 404.
  {
    method: 'post',
    path: '/v1/offers/:id/bids',
    url: (w) => `/v1/offers/${w.offer1.id}/bids`,
    body: () => ({ amount: 30 }),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 409, buyerO: 403, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/offers/:id/cancel',
    url: (w) => `/v1/offers/${w.offer1.id}/cancel`,
    body: () => ({ reason: 'test' }),
    expect: adminOfA(409),
  },
  {
    method: 'get',
    path: '/v1/offers/:id/timeline',
    url: (w) => `/v1/offers/${w.offer1.id}/timeline`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/offers/:id/eligibility',
    url: (w) => `/v1/offers/${w.offer1.id}/eligibility`,
    expect: { ...adminOfA(200), buyerT: 200, buyerO: 200, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/assignments/:id/disputes',
    url: (w) => `/v1/assignments/${w.assignment1}/disputes`,
    body: () => ({ reason: 'not a real person' }),
    // T's member key comes after T's owner key: the sale is already disputed (409), which only a caller allowed hears.
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 201, buyerO: 404, buyerF: 404, memberT: 409 },
  },
  // T's sale has no webhook configured: A's admin hears 409 channel_not_configured (nothing is started), B's admin 404.
  {
    method: 'post',
    path: '/v1/assignments/:id/redeliver',
    url: (w) => `/v1/assignments/${w.assignment1}/redeliver`,
    body: () => ({ channel: 'webhook' }),
    expect: adminOfA(409),
  },
  {
    method: 'get',
    path: '/v1/assignments/:id/deliveries',
    url: (w) => `/v1/assignments/${w.assignment1}/deliveries`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/disputes',
    url: () => '/v1/disputes',
    expect: { ...anyAdmin(200), buyerT: 200, buyerO: 200, buyerF: 200 },
  },
  {
    method: 'get',
    path: '/v1/disputes/:id',
    url: (w) => `/v1/disputes/${w.disputeId}`,
    expect: { ...adminOfA(200), buyerT: 200, buyerO: 404, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/disputes/:id/resolve',
    url: (w) => `/v1/disputes/${w.disputeId}/resolve`,
    body: () => ({ approve: false }),
    // After A's admin resolved it, A's owner and dispatcher keys hear that it is resolved already (409): they may.
    expect: { ...adminOfA(200), ownerA: 409, dispatcherA: 409 },
  },
  // The buyer's side (#12): per-buyer prices are the agency's; the pipeline of a bought lead is its buyer's alone.
  {
    method: 'get',
    path: '/v1/campaigns/:id/buyer-prices',
    url: (w) => `/v1/campaigns/${w.campaign.id}/buyer-prices`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/campaigns/:id/buyer-prices',
    url: (w) => `/v1/campaigns/${w.campaign.id}/buyer-prices`,
    body: (w) => ({ buyerId: w.O.buyer.id, rule: { kind: 'fixed', value: 30 } }),
    expect: adminOfA(200),
  },
  { method: 'get', path: '/v1/me/pipeline', url: () => '/v1/me/pipeline', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/alerts', url: () => '/v1/me/alerts', expect: anyBuyer(200) },
  // the card on file and auto-recharge (#21): the world's agencies take no card payments (409 where Stripe is needed)
  { method: 'get', path: '/v1/me/billing', url: () => '/v1/me/billing', expect: anyBuyer(200) },
  { method: 'post', path: '/v1/me/billing/card', url: () => '/v1/me/billing/card', expect: anyBuyer(409) },
  { method: 'delete', path: '/v1/me/billing/card', url: () => '/v1/me/billing/card', expect: anyBuyer(200) },
  {
    method: 'put',
    path: '/v1/me/billing/recharge',
    url: () => '/v1/me/billing/recharge',
    body: () => ({ enabled: true, threshold: 10, credits: 50 }),
    expect: anyBuyer(409),
  },
  {
    method: 'get',
    path: '/v1/me/leads/:id/pipeline',
    url: (w) => `/v1/me/leads/${w.assignment1}/pipeline`,
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 200, buyerO: 404, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/me/leads/:id/pipeline',
    url: (w) => `/v1/me/leads/${w.assignment1}/pipeline`,
    body: () => ({ status: 'contacted' }),
    expect: { ...NO_KEY, ...DENY_ALL, buyerT: 201, buyerO: 404, buyerF: 404 },
  },
  {
    method: 'post',
    path: '/v1/sources',
    url: () => '/v1/sources',
    body: () => ({ name: unique('source') }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/sources', url: () => '/v1/sources', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/sources/:id', url: (w) => `/v1/sources/${w.S.source.id}`, expect: adminOfA(200) },
  {
    method: 'patch',
    path: '/v1/sources/:id',
    url: (w) => `/v1/sources/${w.S.source.id}`,
    body: () => ({ name: unique('renamed') }),
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/campaigns',
    url: (w) => `/v1/sources/${w.S.source.id}/campaigns`,
    body: (w) => ({ campaignId: w.campaign.id, payout: { kind: 'share', shareBps: 3000 } }),
    expect: adminOfA(200),
  },
  // suppression and Do-Not-Call lists (#23): the agency's own; the platform's files are the operator's
  { method: 'get', path: '/v1/suppression', url: () => '/v1/suppression', expect: anyAdmin(200) },
  {
    method: 'post',
    path: '/v1/suppression/entries',
    url: () => '/v1/suppression/entries',
    body: () => ({ list: 'do_not_contact', value: `512555${String(suppressed++ % 10_000).padStart(4, '0')}` }),
    expect: anyAdmin(201),
  },
  {
    method: 'post',
    path: '/v1/suppression/search',
    url: () => '/v1/suppression/search',
    body: () => ({ value: '5125550100' }),
    expect: anyAdmin(200),
  },
  {
    method: 'delete',
    path: '/v1/suppression/entries/:id',
    url: () => `/v1/suppression/entries/do_not_contact.${'0'.repeat(64)}`,
    expect: anyAdmin(404),
  },
  // Without a file: 400 for whoever may upload.
  {
    method: 'post',
    path: '/v1/suppression/uploads',
    url: () => '/v1/suppression/uploads?list=do_not_contact',
    expect: anyAdmin(400),
  },
  { method: 'post', path: '/v1/dnc/uploads', url: () => '/v1/dnc/uploads?list=national_dnc', expect: rootOnly(400) },
  // consent-certificate providers (#23): managers set and remove them, readers list them (never the credential)
  { method: 'get', path: '/v1/consent-providers', url: () => '/v1/consent-providers', expect: anyAdmin(200) },
  {
    method: 'put',
    path: '/v1/consent-providers/:provider',
    url: () => '/v1/consent-providers/trustedform',
    body: () => ({ credential: 'tf-api-key', baseUrl: 'https://8.8.8.8' }),
    expect: anyAdmin(200),
  },
  {
    method: 'delete',
    path: '/v1/consent-providers/:provider',
    url: () => '/v1/consent-providers/jornaya',
    expect: anyAdmin(404),
  },
  // third-party scrubs (#23 item 5): the agency's managers change them (a provider secret, money), analysts read
  { method: 'get', path: '/v1/scrubs', url: () => '/v1/scrubs', expect: anyAdmin(200) },
  {
    method: 'put',
    path: '/v1/scrubs/:scrub',
    url: () => '/v1/scrubs/line_status',
    body: () => ({ enabled: false, secret: 'rpv-token' }),
    expect: anyAdmin(200),
  },
  // one person's erasure (#23 item 6): the agency's owners and admins
  {
    method: 'post',
    path: '/v1/erasure-requests',
    url: () => '/v1/erasure-requests',
    body: () => ({ value: 'nobody.here@example.com' }),
    expect: anyAdmin(201),
  },
  { method: 'get', path: '/v1/erasure-requests', url: () => '/v1/erasure-requests', expect: anyAdmin(200) },
  {
    method: 'post',
    path: '/v1/sources/:id/keys',
    url: (w) => `/v1/sources/${w.S.source.id}/keys`,
    body: () => ({}),
    expect: adminOfA(201),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/keys/revoke',
    url: (w) => `/v1/sources/${w.R.source.id}/keys/revoke`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/sources/:id/ledger',
    url: (w) => `/v1/sources/${w.S.source.id}/ledger`,
    expect: adminOfA(200),
  },
  {
    method: 'post',
    path: '/v1/sources/:id/settlements',
    url: (w) => `/v1/sources/${w.S.source.id}/settlements`,
    // An adjustment up needs no balance, so the admin's 201 does not depend on S having sold a lead.
    body: () => ({ kind: 'adjustment', amount: 1, reference: unique('matrix') }),
    expect: adminOfA(201),
  },
  {
    method: 'get',
    path: '/v1/sources/:id/leads',
    url: (w) => `/v1/sources/${w.S.source.id}/leads`,
    expect: adminOfA(200),
  },
  {
    method: 'get',
    path: '/v1/sources/:id/spec',
    url: (w) => `/v1/sources/${w.S.source.id}/spec`,
    expect: adminOfA(200),
  },
  { method: 'get', path: '/v1/reports', url: () => '/v1/reports', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/reports/endpoints', url: () => '/v1/reports/endpoints', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/reports/refusals', url: () => '/v1/reports/refusals', expect: anyAdmin(200) },
  // A's campaign: S pings it, Z (agency B) does not find it.
  {
    method: 'post',
    path: '/v1/pings',
    url: () => '/v1/pings',
    body: (w) => ({ campaignId: w.campaign.id, fields: { zip: '78701' } }),
    expect: { ...anySource(200), sourceZ: 404 },
  },
  // S's ping: S posts it, Z does not find it.
  {
    method: 'post',
    path: '/v1/posts',
    url: () => '/v1/posts',
    body: (w) => ({ pingId: w.pingId, fields: w.pingFields }),
    expect: { ...anySource(202), sourceZ: 404 },
  },
  { method: 'get', path: '/v1/source/leads', url: () => '/v1/source/leads', expect: anySource(200) },
  { method: 'get', path: '/v1/source/spec', url: () => '/v1/source/spec', expect: anySource(200) },
  { method: 'get', path: '/v1/source/balance', url: () => '/v1/source/balance', expect: anySource(200) },
  { method: 'get', path: '/v1/source/ledger', url: () => '/v1/source/ledger', expect: anySource(200) },
  { method: 'get', path: '/v1/source/refusals', url: () => '/v1/source/refusals', expect: anySource(200) },
  {
    method: 'get',
    path: '/v1/exports/leads.csv',
    url: () => '/v1/exports/leads.csv',
    expect: { ...anyAdmin(200), sourceS: 200, sourceZ: 200 },
  },
  {
    method: 'get',
    path: '/v1/exports/sales.csv',
    url: () => '/v1/exports/sales.csv',
    expect: { ...anyAdmin(200), buyerT: 200, buyerO: 200, buyerF: 200 },
  },
  {
    method: 'get',
    path: '/v1/exports/ledger.csv',
    url: () => '/v1/exports/ledger.csv',
    expect: { ...anyAdmin(200), buyerT: 200, buyerO: 200, buyerF: 200 },
  },
  { method: 'get', path: '/v1/exports/audit-log.csv', url: () => '/v1/exports/audit-log.csv', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/audit-log', url: () => '/v1/audit-log', expect: anyAdmin(200) },
  { method: 'get', path: '/v1/me/audit-log', url: () => '/v1/me/audit-log', expect: anyBuyer(200) },
  // A's admin and S may name S; B's admin and Z do not find it.
  {
    method: 'get',
    path: '/v1/exports/source-ledger.csv',
    url: (w) => `/v1/exports/source-ledger.csv?sourceId=${w.S.source.id}`,
    expect: { ...adminOfA(200), sourceS: 200, sourceZ: 404 },
  },
  { method: 'get', path: '/v1/exports/report.csv', url: () => '/v1/exports/report.csv', expect: anyAdmin(200) },
  // Keys of one's own organisation. An admin asking for an owner's key is refused (above its role); the owners get it.
  {
    method: 'post',
    path: '/v1/keys',
    url: () => '/v1/keys',
    body: () => ({ name: unique('matrix'), role: 'owner' }),
    expect: {
      ...KEY_MANAGERS,
      adminA: 403,
      adminB: 403,
      buyerT: 201,
      buyerO: 201,
      buyerF: 201,
      sourceS: 201,
      sourceZ: 201,
      ownerA: 201,
    },
  },
  {
    method: 'get',
    path: '/v1/keys',
    url: () => '/v1/keys',
    expect: {
      ...KEY_MANAGERS,
      adminA: 200,
      adminB: 200,
      buyerT: 200,
      buyerO: 200,
      buyerF: 200,
      sourceS: 200,
      sourceZ: 200,
    },
  },
  // An analyst key of agency A: only A's owners and admins find it (revoking twice answers the same).
  {
    method: 'post',
    path: '/v1/keys/:id/revoke',
    url: () => `/v1/keys/${spareKeyOfA}/revoke`,
    expect: {
      ...KEY_MANAGERS,
      adminA: 200,
      adminB: 404,
      buyerT: 404,
      buyerO: 404,
      buyerF: 404,
      sourceS: 404,
      sourceZ: 404,
    },
  },
  // Signing in is public; the session routes open with the cookie only: a key hears 403 session_required.
  {
    method: 'post',
    path: '/v1/auth/sign-in',
    url: () => '/v1/auth/sign-in',
    body: () => ({ email: 'nobody@example.com', password: 'not a real password' }),
    expect: allCallers(401),
  },
  { method: 'get', path: '/v1/session', url: () => '/v1/session', expect: sessionOnly() },
  {
    method: 'post',
    path: '/v1/session/organisation',
    url: () => '/v1/session/organisation',
    body: () => ({ membershipId: '00000000-0000-4000-8000-000000000000' }),
    expect: sessionOnly(),
  },
  { method: 'post', path: '/v1/auth/sign-out', url: () => '/v1/auth/sign-out', expect: sessionOnly() },
  // Emailed links: the request is public and answers 202 whoever asks; completing a dead link is 400.
  {
    method: 'post',
    path: '/v1/auth/sign-in-link',
    url: () => '/v1/auth/sign-in-link',
    body: () => ({ email: 'nobody@example.com' }),
    expect: allCallers(202),
  },
  {
    method: 'post',
    path: '/v1/auth/sign-in-link/complete',
    url: () => '/v1/auth/sign-in-link/complete',
    body: () => ({ token: 'A'.repeat(43) }),
    expect: allCallers(400),
  },
  {
    method: 'post',
    path: '/v1/auth/password-reset',
    url: () => '/v1/auth/password-reset',
    body: () => ({ email: 'nobody@example.com' }),
    expect: allCallers(202),
  },
  {
    method: 'post',
    path: '/v1/auth/password-reset/complete',
    url: () => '/v1/auth/password-reset/complete',
    body: () => ({ token: 'A'.repeat(43), password: 'a long enough new password' }),
    expect: allCallers(400),
  },
  // One's own account: the cookie only.
  {
    method: 'patch',
    path: '/v1/account',
    url: () => '/v1/account',
    body: () => ({ displayName: 'Pat' }),
    expect: sessionOnly(),
  },
  {
    method: 'post',
    path: '/v1/account/password',
    url: () => '/v1/account/password',
    body: () => ({ currentPassword: 'x', newPassword: 'a long enough new password' }),
    expect: sessionOnly(),
  },
  { method: 'get', path: '/v1/account/sessions', url: () => '/v1/account/sessions', expect: sessionOnly() },
  {
    method: 'post',
    path: '/v1/account/sessions/:id/revoke',
    url: () => '/v1/account/sessions/00000000-0000-4000-8000-000000000000/revoke',
    expect: sessionOnly(),
  },
  {
    method: 'post',
    path: '/v1/account/sign-out-everywhere',
    url: () => '/v1/account/sign-out-everywhere',
    expect: sessionOnly(),
  },
  // Single sign-on: the settings are each agency's own (owners and admins); the sign-in steps are public and
  // answer everyone alike (a domain without SSO; an agency without SSO and a callback without a sign-in redirect
  // to the sign-in page).
  { method: 'get', path: '/v1/sso', url: () => '/v1/sso', expect: anyAdmin(200) },
  {
    method: 'put',
    path: '/v1/sso',
    url: () => '/v1/sso',
    body: () => ({
      issuer: 'https://login.example.com',
      clientId: 'client',
      clientSecret: 'secret',
      allowedDomains: [`${unique('authz')}.example`],
      defaultRole: 'analyst',
      enabled: false,
    }),
    expect: anyAdmin(200),
  },
  {
    method: 'post',
    path: '/v1/auth/sso/discover',
    url: () => '/v1/auth/sso/discover',
    body: () => ({ email: `someone@${unique('nosso')}.example` }),
    expect: everyone(404),
  },
  {
    method: 'get',
    path: '/v1/auth/sso/:agencyId/start',
    url: (w) => `/v1/auth/sso/${w.A.agency.id}/start`,
    expect: everyone(302),
  },
  { method: 'get', path: '/v1/auth/sso/callback', url: () => '/v1/auth/sso/callback', expect: everyone(302) },
  // Stripe's webhook is public: an agency without card payments answers everyone 404 alike.
  {
    method: 'post',
    path: '/v1/stripe/webhooks/:agencyId',
    url: (w) => `/v1/stripe/webhooks/${w.A.agency.id}`,
    body: () => ({ id: 'evt_authz', object: 'event', type: 'payment_intent.succeeded', data: { object: {} } }),
    expect: everyone(404),
  },
  // The agency's card payments (#21): readers list and read them, managers refund (A has no card payments: 404)
  { method: 'get', path: '/v1/payments', url: () => '/v1/payments', expect: anyAdmin(200) },
  {
    method: 'get',
    path: '/v1/payments/:id',
    url: () => `/v1/payments/${NO_SUCH_ID}`,
    expect: { ...NO_KEY, ...DENY_ALL, adminA: 404, adminB: 404 },
  },
  {
    method: 'post',
    path: '/v1/payments/:id/refunds',
    url: () => `/v1/payments/${NO_SUCH_ID}/refunds`,
    body: () => ({ credits: 1 }),
    expect: { ...NO_KEY, ...DENY_ALL, adminA: 404, adminB: 404 },
  },
  { method: 'get', path: '/healthz', url: () => '/healthz', expect: everyone(200) },
  { method: 'get', path: '/readyz', url: () => '/readyz', expect: everyone(200) },
  { method: 'get', path: '/metrics', url: () => '/metrics', expect: everyone(200) },
  // ─── teams (#20): public link routes answer 404 to a link nobody issued; keys act with their scope ───
  { method: 'get', path: '/v1/setup/:token', url: () => `/v1/setup/${NO_SUCH_LINK}`, expect: everyone(404) },
  {
    method: 'post',
    path: '/v1/setup',
    url: () => '/v1/setup',
    body: () => ({
      token: NO_SUCH_LINK,
      agencyName: 'Nobody',
      email: `${unique('setup')}@example.com`,
      displayName: 'Nobody',
      password: 'correct horse battery staple',
    }),
    expect: everyone(404),
  },
  {
    method: 'post',
    path: '/v1/invitations',
    url: () => '/v1/invitations',
    // `member` is a role of buyers and sources (their keys act as owners), not of agencies or the platform
    body: () => ({ email: `${unique('invitee')}@example.com`, role: 'member' }),
    expect: {
      ...NO_KEY,
      root: 400,
      adminA: 400,
      adminB: 400,
      buyerT: 201,
      buyerO: 201,
      buyerF: 201,
      sourceS: 201,
      sourceZ: 201,
    },
  },
  {
    method: 'get',
    path: '/v1/invitations',
    url: () => '/v1/invitations',
    expect: { ...NO_KEY, ...everyKey(200) },
  },
  {
    method: 'post',
    path: '/v1/invitations/:id/revoke',
    url: () => `/v1/invitations/${NO_SUCH_ID}/revoke`,
    expect: { ...NO_KEY, ...everyKey(404) },
  },
  {
    method: 'get',
    path: '/v1/invitations/accept/:token',
    url: () => `/v1/invitations/accept/${NO_SUCH_LINK}`,
    expect: everyone(404),
  },
  {
    method: 'post',
    path: '/v1/invitations/accept',
    url: () => '/v1/invitations/accept',
    body: () => ({ token: NO_SUCH_LINK, displayName: 'Nobody', password: 'correct horse battery staple' }),
    expect: everyone(404),
  },
  { method: 'get', path: '/v1/members', url: () => '/v1/members', expect: { ...NO_KEY, ...everyKey(200) } },
  {
    method: 'patch',
    path: '/v1/members/:membershipId',
    url: () => `/v1/members/${NO_SUCH_ID}`,
    body: () => ({ role: 'member' }),
    expect: { ...NO_KEY, ...everyKey(404), root: 403 },
  },
  {
    method: 'post',
    path: '/v1/members/:membershipId/remove',
    url: () => `/v1/members/${NO_SUCH_ID}/remove`,
    expect: { ...NO_KEY, ...everyKey(404), root: 403 },
  },
  {
    method: 'post',
    path: '/v1/members/transfer-ownership',
    url: () => '/v1/members/transfer-ownership',
    body: () => ({ membershipId: NO_SUCH_ID }),
    // ownership is handed over by a signed-in owner, never by a key
    expect: { ...NO_KEY, ...DENY_ALL },
  },
  { method: 'get', path: '/v1/openapi.json', url: () => '/v1/openapi.json', expect: everyone(200) },
  { method: 'get', path: '/v1/asyncapi.json', url: () => '/v1/asyncapi.json', expect: everyone(200) },
  { method: 'get', path: '/v1/docs', url: () => '/v1/docs', expect: everyone(200) },
  { method: 'get', path: '/v1/reference', url: () => '/v1/reference', expect: everyone(200) },
  { method: 'get', path: '/v1/reference/scalar.js', url: () => '/v1/reference/scalar.js', expect: everyone(200) },
  { method: 'get', path: '/v1/feed', url: () => '/v1/feed', expect: everyone(426) },
  // Two-factor and passkeys (#20): a person's account and sign-in routes open only to a session cookie.
  ...(
    [
      ['get', '/v1/account/two-factor'],
      ['post', '/v1/account/totp'],
      ['post', '/v1/account/totp/confirm'],
      ['post', '/v1/account/totp/disable'],
      ['post', '/v1/account/recovery-codes'],
      ['post', '/v1/auth/second-factor/options'],
      ['post', '/v1/auth/second-factor'],
      ['post', '/v1/account/passkeys/options'],
      ['post', '/v1/account/passkeys'],
      ['get', '/v1/account/passkeys'],
      ['post', '/v1/account/passkeys/:id/delete'],
    ] as const
  ).map(([method, path]): Case => ({
    method,
    path,
    url: () => path.replace(':id', '00000000-0000-4000-8000-000000000000'),
    // A key is not a person (403 session_required); no cookie: 401.
    expect: { ...everyone(403), none: 401 },
    codes: { 403: 'session_required' },
  })),
  {
    method: 'post',
    path: '/v1/auth/passkey/options',
    url: () => '/v1/auth/passkey/options',
    expect: everyone(200),
  },
  {
    method: 'post',
    path: '/v1/auth/passkey',
    url: () => '/v1/auth/passkey',
    body: () => ({
      response: {
        id: 'AAAA',
        rawId: 'AAAA',
        type: 'public-key',
        clientExtensionResults: {},
        response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' },
      },
    }),
    // Public, and no key helps: an answer to no challenge of ours.
    expect: allCallers(401),
    codes: { 401: 'second_factor_invalid' },
  },
  // Card payments (#21): the Stripe settings are the agency's owners' to change (the first save without its
  // secrets is a 400, so that the world keeps no payments), its owners' and admins' to read and test (404: none
  // set); a buyer's owners top up (404: the agency takes no cards), every member reads payments and options.
  { method: 'get', path: '/v1/payments/settings', url: () => '/v1/payments/settings', expect: anyAdmin(200) },
  {
    method: 'put',
    path: '/v1/payments/settings',
    url: () => '/v1/payments/settings',
    body: () => ({ currency: 'usd', creditPrice: 100, minCredits: 1, maxCredits: 100 }),
    expect: { ...anyAdmin(403), ownerA: 400 },
  },
  {
    method: 'post',
    path: '/v1/payments/settings/test',
    url: () => '/v1/payments/settings/test',
    expect: anyAdmin(404),
  },
  {
    method: 'post',
    path: '/v1/me/payments/checkout',
    url: () => '/v1/me/payments/checkout',
    body: () => ({ credits: 10 }),
    expect: anyBuyer(404),
  },
  { method: 'get', path: '/v1/me/payments', url: () => '/v1/me/payments', expect: anyBuyer(200) },
  { method: 'get', path: '/v1/me/payments/options', url: () => '/v1/me/payments/options', expect: anyBuyer(200) },
  {
    method: 'get',
    path: '/v1/settings/two-factor',
    url: () => '/v1/settings/two-factor',
    expect: anyAdmin(200),
  },
  {
    method: 'post',
    path: '/v1/settings/two-factor',
    url: () => '/v1/settings/two-factor',
    body: () => ({ required: false }),
    // Agency owners only: an admin-scoped key is refused too.
    expect: { ...anyAdmin(403), ownerA: 200 },
  },
];

let h: Harness;
let w: World;
let keys: Record<Who, string | null>;
/** An analyst key of agency A, for the revocation row. */
let spareKeyOfA: string;

beforeAll(async () => {
  h = await startHarness();
  w = await buildWorld(h);
  keys = {
    none: null,
    wrong: 'lw_admin_thisIsNotAKeyAnyoneWasGiven0000000000000',
    root: ROOT_TOKEN,
    adminA: w.A.adminKey,
    adminB: w.B.adminKey,
    buyerT: w.T.apiKey,
    buyerO: w.O.apiKey,
    buyerF: w.F.apiKey,
    sourceS: w.S.apiKey,
    sourceZ: w.Z.apiKey,
    ...(await roleKeys(w)),
  };
  spareKeyOfA = (await createApiKey(h.database.db, { kind: 'admin', agencyId: w.A.agency.id, role: 'analyst' })).id;
});

/** Keys of agency A, buyer T and source S acting as each other role. */
async function roleKeys(
  w: World,
): Promise<Record<'ownerA' | 'dispatcherA' | 'analystA' | 'memberT' | 'memberS', string>> {
  const db = h.database.db;
  const agency = { kind: 'admin' as const, agencyId: w.A.agency.id };
  const buyer = { kind: 'buyer' as const, agencyId: w.A.agency.id, buyerId: w.T.buyer.id };
  const source = { kind: 'source' as const, agencyId: w.A.agency.id, sourceId: w.S.source.id };
  return {
    ownerA: (await createApiKey(db, { ...agency, role: 'owner' })).key,
    dispatcherA: (await createApiKey(db, { ...agency, role: 'dispatcher' })).key,
    analystA: (await createApiKey(db, { ...agency, role: 'analyst' })).key,
    memberT: (await createApiKey(db, { ...buyer, role: 'member' })).key,
    memberS: (await createApiKey(db, { ...source, role: 'member' })).key,
  };
}

afterAll(async () => {
  await h?.close();
});

test('the matrix covers every route the app serves', () => {
  const served = h.main.api.routes.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
  expect(CASES.map((c) => `${c.method.toUpperCase()} ${c.path}`).sort()).toEqual(served);
});

describe.each(CASES.map((c) => [`${c.method.toUpperCase()} ${c.path}`, c] as const))('%s', (_name, c) => {
  test('answers each caller as expected', async () => {
    const route = h.main.api.routes.find((r) => r.method === c.method && r.path === c.path)!;
    const got: Partial<Record<Who, number>> = {};
    const wanted: Partial<Record<Who, number>> = {};
    const want = expected(c);
    for (const who of CALLERS) {
      if (want[who] === undefined) continue;
      let req = h.http[c.method](c.url(w));
      const key = keys[who];
      if (key) req = req.set(bearer(key));
      const res = c.body ? await req.send(c.body(w)) : await req;
      got[who] = res.status;
      wanted[who] = want[who];
      if (res.status >= 400) {
        const isClaimAnswer = typeof res.body?.result === 'string';
        expect(isClaimAnswer || /application\/problem\+json/.test(String(res.headers['content-type']))).toBe(true);
        if (!isClaimAnswer)
          expect(res.body).toMatchObject({
            status: res.status,
            code: expect.any(String),
            title: expect.any(String),
            detail: expect.any(String),
          });
      }
      // Every answer matches what the OpenAPI document says about it.
      const documented = route.responses[res.status];
      expect(documented).toBeDefined();
      const isProblemDoc = /application\/problem\+json/.test(String(res.headers['content-type']));
      const schema = isProblemDoc ? ProblemSchema : documented?.schema;
      if (schema && /json/.test(String(res.headers['content-type']))) {
        const parsed = schema.safeParse(res.body);
        if (!parsed.success)
          throw new Error(`${who}: ${res.status} answer does not match its documented schema: ${parsed.error.message}`);
      }
      // A sign-in's wrong password is `invalid_credentials`, a key on a session route `session_required`; a case
      // may name its own codes.
      if (res.status === 401)
        expect(c.codes?.[401] ? [c.codes[401]] : ['unauthorized', 'invalid_credentials']).toContain(res.body.code);
      if (res.status === 403 && !res.body.result)
        expect(c.codes?.[403] ? [c.codes[403]] : ['forbidden', 'session_required']).toContain(res.body.code);
    }
    expect(got).toEqual(wanted);
  });
});

test('a foreign id and an unknown id answer the same 404', async () => {
  const foreign = await h.http.get(`/v1/buyers/${w.F.buyer.id}`).set(bearer(w.A.adminKey));
  const unknown = await h.http.get(`/v1/buyers/00000000-0000-4000-8000-000000000000`).set(bearer(w.A.adminKey));
  expect(foreign.status).toBe(404);
  expect(unknown.status).toBe(404);
  expect(foreign.body).toEqual(unknown.body);
});

test('a revoked key no longer works; the new one does', async () => {
  const res = await h.http
    .post(`/v1/buyers/${w.O.buyer.id}/keys`)
    .set(bearer(w.A.adminKey))
    .send({ revokeExisting: true });
  expect(res.status).toBe(201);
  expect(res.body.revoked).toBeGreaterThanOrEqual(1);
  expect((await h.http.get('/v1/me').set(bearer(w.O.apiKey))).status).toBe(401);
  const me = await h.http.get('/v1/me').set(bearer(res.body.apiKey));
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ kind: 'buyer', buyer: { id: w.O.buyer.id } });
});

test('keys are random, prefixed by kind, and stored only as hashes', async () => {
  expect(w.A.adminKey).toMatch(/^lw_admin_[A-Za-z0-9_-]{43}$/);
  expect(w.T.apiKey).toMatch(/^lw_buyer_[A-Za-z0-9_-]{43}$/);
  const { rows } = await (h.database.raw as import('pg').Pool).query(
    'SELECT key_hash, prefix FROM api_keys WHERE agency_id = $1',
    [w.A.agency.id],
  );
  for (const r of rows) {
    expect(r.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect([w.A.adminKey, w.T.apiKey, w.O.apiKey]).not.toContain(r.key_hash);
  }
});

test('the feed: a buyer member key opens it; an agency or source key of any role is refused with 403', async () => {
  const feed = await connectFeed(h.main.wsUrl, keys.memberT!);
  expect(await feed.next((m) => m.type === 'snapshot')).toMatchObject({ type: 'snapshot' });
  await feed.close();
  for (const who of ['ownerA', 'dispatcherA', 'analystA', 'memberS', 'root'] as const) {
    await expect(connectFeed(h.main.wsUrl, keys[who]!)).rejects.toThrow('upgrade refused: 403');
  }
});
