/**
 * Endpoint sales (#22) under `kill -9` and retries, on real processes (test/faults/harness.ts: a Temporal dev server,
 * `tsx bin/worker.ts`, `tsx bin/api.ts`, real Postgres) and a fleet of real buyer endpoint servers that answer a
 * repeated `Idempotency-Key` with its first answer, as a real buyer does (test/helpers/endpoint-fleet.ts).
 *
 * A ping-tree lead's winner (bid 60; a second bid of 40 in the same tier, a third buyer in tier 2) is posted, and:
 *
 * - its post is HELD by the buyer's server (the buyer took the lead), the worker is killed, a new one starts, the
 *   post is released: the activity's retry re-sends it to the SAME buyer with the SAME key and gets the first answer;
 * - the buyer takes the lead and the connection drops before the answer: the activity's own retry re-sends it;
 * - the buyer answers 500: refused by the protocol (a 5xx is an error), the reserve released, the next bid sold;
 * - the worker is killed after the buyer's accepted answer was recorded, while the sale's transaction is held on the
 *   buyer's wallet row: after the restart the sale finds the accepted post in the endpoint's log, nothing is re-sent;
 * - the worker is killed while a tier's pings are out: the round (one activity, never retried) times out and answers
 *   no bids, so the next tier sells (before `endpoint-ping-round-failure`, the lead's workflow failed).
 *
 * Every time: no other buyer posted while the post was unresolved, exactly one charge at the bid, every reserve given
 * back exactly once, the timeline coherent, the lead sold, and the audit's checks (db/invariants.ts, the same functions
 * `npm run audit` runs – the endpoint checks among them) clean.
 */
import { sql } from 'drizzle-orm';

import { POST_SENDS } from '../../activities/endpoints';
import { leadTimeline } from '../../db/offers';
import { endpointPostKey, leadWorkflowId } from '../../domain/ids';
import { runAudit } from '../../ops/audit';
import {
  BEHAVIOURS,
  type Fleet,
  type FleetServer,
  makeEndpointBuyer,
  pingsTo,
  postsTo,
  type Script,
  startEndpointFleet,
} from '../helpers/endpoint-fleet';
import {
  assignmentsFor,
  balanceOf,
  ledgerOf as ledgerEntriesOf,
  waitForLeadStatus,
  waitForOffer,
} from '../helpers/lifecycle';
import { holdLock, waitingOnLock } from '../helpers/locks';
import { startLead } from '../helpers/temporal';
import { makeAgency, makeCampaign, makeLead } from '../helpers/world';
import { waitFor } from './harness';
import { faultSuite } from './suite';

jest.setTimeout(6 * 60_000);

// The endpoint servers listen on 127.0.0.1: the workers may call them.
const suite = faultSuite({ topology: 'dev', env: () => ({ LW_WEBHOOK_ALLOWLIST: '127.0.0.1' }) });
let fleet: Fleet;

beforeAll(() => {
  fleet = startEndpointFleet();
});
afterAll(async () => {
  await fleet?.close();
});

interface EndpointBuyer {
  id: string;
  server: FleetServer;
}

/** A buyer with 100 credits whose endpoint is a fleet server answering `script`. */
const endpointBuyer = (agencyId: string, script: Script): Promise<EndpointBuyer> =>
  makeEndpointBuyer(suite.database.db, fleet, agencyId, script);

const posts = (b: EndpointBuyer) => postsTo(b.server);

interface Tree {
  agencyId: string;
  winner: EndpointBuyer;
  second: EndpointBuyer;
  tier2: EndpointBuyer;
  leadId: string;
  offerId: string;
}

/**
 * Tier 1: the winner (its ping answering `ping`, by default a bid of 60; its post answering `post`) and a second bid
 * of 40; tier 2: one more buyer (bid 90).
 */
async function tree(post: Script['post'], ping: Script['ping'] = { answer: 'bid', bid: 60 }): Promise<Tree> {
  const db = suite.database.db;
  const agency = await makeAgency(db);
  const winner = await endpointBuyer(agency.id, { ping, post });
  const second = await endpointBuyer(agency.id, BEHAVIOURS.bid(40));
  const tier2 = await endpointBuyer(agency.id, BEHAVIOURS.bid(90));
  const campaign = await makeCampaign(db, agency.id, {
    auction: 'ping_tree',
    pingTree: {
      tiers: [
        { buyerIds: [winner.id, second.id], floor: 20 },
        { buyerIds: [tier2.id], floor: 20 },
      ],
    },
    price: { base: 10 },
  });
  const lead = await makeLead(db, agency.id, campaign.id);
  await startLead(suite.temporal, suite.stack.taskQueue, lead);
  const offer = await waitForOffer(db, lead.id, 0, 60_000);
  return { agencyId: agency.id, winner, second, tier2, leadId: lead.id, offerId: offer.id };
}

/** Every ledger entry of the lead, as [buyer, kind, amount]. */
const ledgerOf = (leadId: string) => ledgerEntriesOf(suite.database.db, leadId);

/** The workflow's activities in flight (local activities, run inside a workflow task, are not among them). */
async function pendingActivities(leadId: string): Promise<string[]> {
  const d = await suite.temporal.workflow.getHandle(leadWorkflowId(leadId)).describe();
  return (d.raw.pendingActivities ?? []).map((a) => a.activityType?.name ?? '?');
}

/**
 * What must hold once the lead is sold to `buyer` at `bid`: one sale, one charge at the bid, every reserve given
 * back once, the timeline in order, every post of the sale under its one key, nobody else posted but `alsoPosted`,
 * and the audit clean.
 */
async function expectSoldOnce(t: Tree, buyer: EndpointBuyer, bid: number, alsoPosted: EndpointBuyer[] = []) {
  const db = suite.database.db;
  await waitForLeadStatus(db, t.leadId, 'sold', 120_000);
  await suite.temporal.workflow.getHandle(leadWorkflowId(t.leadId)).result();

  expect(await assignmentsFor(db, t.leadId)).toEqual([expect.objectContaining({ buyerId: buyer.id, price: bid })]);
  const entries = await ledgerOf(t.leadId);
  expect(entries.filter(([, kind]) => kind === 'charge')).toEqual([[buyer.id, 'charge', -bid]]);
  // In the order they were posted: the refused ones first, the buyer last.
  const posted = [...alsoPosted, buyer];
  // Each buyer posted: one reserve of its bid, given back exactly once (the charge is apart).
  for (const b of posted) {
    const own = entries.filter(([id, kind]) => id === b.id && (kind === 'reserve' || kind === 'release'));
    expect(own.map(([, kind, amount]) => [kind, amount]).sort()).toEqual(
      [
        ['release', Math.abs(own[0]![2])],
        ['reserve', -Math.abs(own[0]![2])],
      ].sort(),
    );
  }
  expect(entries.filter(([id]) => !posted.some((b) => b.id === id))).toEqual([]);
  expect(await balanceOf(db, buyer.id)).toBe(100 - bid);

  // Every post of one sale under its key; nobody else posted; tier 2 never pinged.
  for (const b of posted)
    expect(new Set(posts(b).map((p) => p.headers['idempotency-key']))).toEqual(
      new Set([endpointPostKey(t.offerId, b.id)]),
    );
  for (const b of [t.winner, t.second, t.tier2].filter((x) => !posted.includes(x))) expect(posts(b)).toEqual([]);
  expect(t.tier2.server.received).toEqual([]);
  // The buyer took the lead under the sale's key, once.
  expect(buyer.server.taken()).toEqual([endpointPostKey(t.offerId, buyer.id)]);

  const timeline = await leadTimeline(db, t.leadId);
  const of = (type: string) => timeline.filter((e) => e.type === type).map((e) => e.buyerId);
  expect(of('pinged').sort()).toEqual([t.winner.id, t.second.id].sort());
  expect(of('posted')).toEqual(posted.map((b) => b.id));
  expect(of('post_rejected')).toEqual(alsoPosted.map((b) => b.id));
  expect(of('post_accepted')).toEqual([buyer.id]);
  expect(of('won')).toEqual([buyer.id]);
  expect(of('manual_review')).toEqual([]);
  const order = timeline.map((e) => e.type).filter((x) => ['posted', 'post_accepted', 'won'].includes(x));
  expect(order.lastIndexOf('posted')).toBeLessThan(order.indexOf('post_accepted'));

  const audit = await runAudit(db, { agencyId: t.agencyId, temporal: suite.temporal, minAgeMs: 0 });
  expect(audit.checks.map((c) => c.name)).toEqual(
    expect.arrayContaining(['endpoint_charges', 'endpoint_posts', 'endpoint_reserves']),
  );
  expect(audit.violations).toEqual([]);
}

test('kill -9 of the worker while the winner’s post is held: the same post, the same key, to the same buyer; one charge', async () => {
  const t = await tree({ answer: 'hold' });
  // The buyer has the lead; its answer is held.
  expect(await waitFor(() => posts(t.winner).length === 1, 60_000)).toBe(true);
  expect(await pendingActivities(t.leadId)).toEqual(['postToEndpoint']);
  await suite.stack.worker.kill9();
  await suite.stack.worker.start();
  t.winner.server.release();

  // The activity's retry (its start-to-close timeout passed) re-sends under the same key: the buyer's first answer.
  await expectSoldOnce(t, t.winner, 60);
  const [first, resent, ...more] = posts(t.winner);
  expect(more).toEqual([]);
  expect(resent!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
  expect(resent!.body).toBe(first!.body);
  expect([first!.replayed, resent!.replayed]).toEqual([false, true]);
});

test('the buyer takes the post and the connection drops before its answer: the activity’s retry re-sends it; one charge', async () => {
  const t = await tree({ answer: 'reset' });
  await expectSoldOnce(t, t.winner, 60);
  const sent = posts(t.winner);
  expect(sent.length).toBeGreaterThanOrEqual(2);
  expect(sent.length).toBeLessThanOrEqual(POST_SENDS);
  expect(sent.map((p) => p.replayed)).toEqual([false, ...Array<boolean>(sent.length - 1).fill(true)]);
  // The lost answer is in the endpoint's log as unknown, the resend's as accepted.
  const { rows } = await suite.pool.query(
    `SELECT outcome FROM endpoint_calls WHERE lead_id = $1 AND step = 'post' ORDER BY created_at`,
    [t.leadId],
  );
  expect(rows.map((r) => r.outcome)).toEqual([...Array<string>(sent.length - 1).fill('unknown'), 'accepted']);
});

test('the winner answers its post with a 500: not taken (a 5xx is an error), its reserve given back, the next bid sold once', async () => {
  const t = await tree({ answer: 'status', status: 500 });
  await expectSoldOnce(t, t.second, 40, [t.winner]);
  expect(posts(t.winner)).toHaveLength(1);
  expect(t.winner.server.taken()).toEqual([]);
  expect(await balanceOf(suite.database.db, t.winner.id)).toBe(100);
});

test('kill -9 of the worker after the accepted answer, before the sale commits: after the restart the sale finds the accepted post; one charge', async () => {
  const db = suite.database.db;
  const t = await tree({ answer: 'hold' });
  expect(await waitFor(() => posts(t.winner).length === 1, 60_000)).toBe(true);
  // The reserve is taken; the sale's transaction will wait on the buyer's wallet row.
  const wallet = await holdLock(db, sql`SELECT 1 FROM wallets WHERE buyer_id = ${t.winner.id} FOR UPDATE`);
  try {
    t.winner.server.release();
    await waitingOnLock(db, '', 60_000);
    // The post activity is over (its accepted answer recorded); the sale (a local activity) is the one waiting.
    expect(await pendingActivities(t.leadId)).toEqual([]);
    const calls = await suite.pool.query(`SELECT outcome FROM endpoint_calls WHERE lead_id = $1 AND step = 'post'`, [
      t.leadId,
    ]);
    expect(calls.rows.map((r) => r.outcome)).toEqual(['accepted']);
    expect(await assignmentsFor(db, t.leadId)).toEqual([]);
    await suite.stack.worker.kill9();
  } finally {
    await wallet.release();
  }
  // Nothing of the dead worker's sale committed.
  expect(await assignmentsFor(db, t.leadId)).toEqual([]);
  await suite.stack.worker.start();

  await expectSoldOnce(t, t.winner, 60);
  // The post was not sent again: the workflow's history holds its accepted answer.
  expect(posts(t.winner)).toHaveLength(1);
});

test('kill -9 of the worker while a tier’s pings are out: the round answers no bids, the next tier sells once, the workflow completes', async () => {
  const db = suite.database.db;
  // Tier 1: the winner's ping held by its server, the second's (40) answered at once; tier 2: a bid of 90.
  const t = await tree({ answer: 'accept' }, { answer: 'hold' });
  const held = t.winner;
  expect(await waitFor(() => pingsTo(held.server).length === 1 && pingsTo(t.second.server).length === 1, 60_000)).toBe(
    true,
  );
  expect(await pendingActivities(t.leadId)).toEqual(['pingEndpoints']);
  await suite.stack.worker.kill9();
  await suite.stack.worker.start();
  held.server.release();

  // The round's activity (never retried) times out: no bids from tier 1 – neither the held one nor the 40 that had
  // landed – so nobody of tier 1 is posted or reserved, and tier 2 sells.
  await waitForLeadStatus(db, t.leadId, 'sold', 120_000);
  const handle = suite.temporal.workflow.getHandle(leadWorkflowId(t.leadId));
  await handle.result();
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  expect(await assignmentsFor(db, t.leadId)).toEqual([expect.objectContaining({ buyerId: t.tier2.id, price: 90 })]);
  expect((await ledgerOf(t.leadId)).sort()).toEqual(
    [
      [t.tier2.id, 'reserve', -90],
      [t.tier2.id, 'release', 90],
      [t.tier2.id, 'charge', -90],
    ].sort(),
  );
  expect(posts(held)).toEqual([]);
  expect(posts(t.second)).toEqual([]);
  expect(pingsTo(held.server)).toHaveLength(1);
  expect(await balanceOf(db, t.tier2.id)).toBe(10);
  const audit = await runAudit(db, { agencyId: t.agencyId, temporal: suite.temporal, minAgeMs: 0 });
  expect(audit.violations).toEqual([]);
});
