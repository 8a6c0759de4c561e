/**
 * Publish first, then the paperwork (#26 item 2), under `kill -9` of the worker between the two, on real processes
 * (test/faults/harness.ts: a Temporal dev server, `tsx bin/worker.ts`, `tsx bin/api.ts`). The crash point is made
 * deterministic without any hook in the product: a row lock held from the test on one targeted buyer holds the
 * paperwork's verdict rows (their key check on that buyer) – nothing before them takes it – so the worker is caught
 * after the offer and its target ids committed and `offer.opened` left, and before the verdict rows and the
 * `targeted`/`excluded` events. The worker is killed there; its transaction dies with it. Then:
 *
 * - the offer stands, open, with its target ids; no verdict row, no `targeted` event; its verdicts wait in
 *   offer_paperwork;
 * - the routing sweep (the stuck-leads job's `finishStalePaperwork`) writes them, once;
 * - a new worker finishes the lead (its retried open finds nothing left to write), and nothing is written twice;
 *   the audit is clean.
 */
import crypto from 'node:crypto';

import { eq, sql } from 'drizzle-orm';

import { createPostgresBus, type OfferBus, type OfferBusEvent } from '../../db/offer-bus';
import { getOffer } from '../../db/offers';
import { offerPaperwork } from '../../db/schema';
import { runAudit } from '../../ops/audit';
import { finishStalePaperwork } from '../../worker/lead-starter';
import { targetsOf, timelineCounts } from '../helpers/lifecycle';
import { holdLock, waitingOnLock } from '../helpers/locks';
import { leadFields, SERVICE_LINE } from '../helpers/world';
import { waitFor } from './harness';
import { faultSuite } from './suite';
import { must } from './traffic';

jest.setTimeout(5 * 60_000);

const suite = faultSuite({ topology: 'dev' });

let bus: OfferBus;
const heard: OfferBusEvent[] = [];

beforeAll(async () => {
  bus = createPostgresBus(process.env.TEST_DATABASE_URL!, suite.pool);
  bus.subscribe((e) => {
    if (e.type === 'offer.opened') heard.push(e);
  });
  await bus.ready();
});
afterAll(async () => {
  await bus?.close();
});

/** Through the API: an agency, two buyers who can buy at 10, one who cannot (no credits), a ping-post campaign. */
async function world() {
  const base = suite.stack.baseUrl;
  const created = await must(base, 'POST', '/v1/agencies', suite.stack.rootToken, {
    name: `paperwork-kill-${crypto.randomUUID().slice(0, 8)}`,
  });
  const adminKey = created.adminKey as string;
  const agencyId = (created.agency as { id: string }).id;
  await must(base, 'POST', '/v1/service-lines', adminKey, { key: SERVICE_LINE, name: 'Roofing' });
  const buyer = async (name: string, credits: number) => {
    const b = await must(base, 'POST', '/v1/buyers', adminKey, { name, serviceLines: [SERVICE_LINE] });
    const id = (b.buyer as { id: string }).id;
    if (credits) await must(base, 'POST', `/v1/buyers/${id}/credits`, adminKey, { amount: credits });
    return id;
  };
  const a = await buyer('a', 100);
  const b = await buyer('b', 100);
  const broke = await buyer('broke', 0);
  const c = await must(base, 'POST', '/v1/campaigns', adminKey, {
    name: 'ping',
    serviceLine: SERVICE_LINE,
    mode: 'ping_post',
    claimWindowSeconds: 5,
    price: { base: 10 },
  });
  return { agencyId, adminKey, a, b, broke, campaignId: (c.campaign as { id: string }).id };
}

const pendingPaperwork = async (offerId: string) =>
  (await suite.database.db.select().from(offerPaperwork).where(eq(offerPaperwork.offerId, offerId))).length;

/** Backends of this database still busy with (or inside the transaction of) a verdict-row insert. */
async function verdictInsertsInFlight(): Promise<number> {
  const r = await suite.database.db.execute(
    sql`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND state <> 'idle' AND query ILIKE 'insert into "offer_targets"%'`,
  );
  return (r as unknown as { rows: { n: number }[] }).rows[0]!.n;
}

test('kill -9 of the worker after offer.opened and before the paperwork: the routing sweep writes it, once', async () => {
  const db = suite.database.db;
  const w = await world();
  const hold = await holdLock(db, sql`SELECT 1 FROM buyers WHERE id = ${w.a} FOR UPDATE`);
  let event: OfferBusEvent | undefined;
  try {
    await must(suite.stack.baseUrl, 'POST', '/v1/leads', w.adminKey, {
      campaignId: w.campaignId,
      fields: leadFields(),
    });
    // The feed heard the offer while the worker's paperwork waits on the held row.
    expect(await waitFor(() => (event = heard.find((e) => e.agencyId === w.agencyId)) !== undefined, 60_000)).toBe(
      true,
    );
    await waitingOnLock(db, 'insert into "offer_targets"', 30_000);
    expect([...event!.targets!].sort()).toEqual([w.a, w.b].sort());
    await suite.stack.worker.kill9();
  } finally {
    await hold.release();
  }
  const offerId = event!.offerId;
  // The dead worker's transaction is rolled back by Postgres (its connection is gone).
  expect(await waitFor(async () => (await verdictInsertsInFlight()) === 0, 30_000)).toBe(true);

  const offer = await getOffer(db, offerId);
  expect(offer).toMatchObject({ status: 'open', agencyId: w.agencyId });
  expect([...offer!.targetIds!].sort()).toEqual([w.a, w.b].sort());
  expect(await targetsOf(db, offerId)).toEqual([]);
  expect(await timelineCounts(db, offerId)).toEqual({});
  expect(await pendingPaperwork(offerId)).toBe(1);

  // The routing sweep (what the stuck-leads job runs first) writes the paperwork.
  expect(await finishStalePaperwork(db, 0)).toBeGreaterThanOrEqual(1);
  expect(await pendingPaperwork(offerId)).toBe(0);
  const targets = await targetsOf(db, offerId);
  expect(targets.map((t) => [t.buyerId, t.eligible, t.reason]).sort()).toEqual(
    [
      [w.a, true, null],
      [w.b, true, null],
      [w.broke, false, 'insufficient_credits'],
    ].sort(),
  );
  expect(await timelineCounts(db, offerId)).toEqual({ targeted: 2, excluded: 1 });

  // A new worker: the workflow's open runs again (it never returned), finds the paperwork done and goes on; nobody
  // claims, so the offer expires. Nothing was written twice.
  await suite.stack.worker.start();
  expect(await waitFor(async () => (await getOffer(db, offerId))!.status !== 'open', 120_000)).toBe(true);
  expect((await getOffer(db, offerId))!.status).toBe('expired');
  expect(await targetsOf(db, offerId)).toHaveLength(3);
  expect(await timelineCounts(db, offerId)).toMatchObject({ targeted: 2, excluded: 1, lost: 2, expired: 1 });
  const audit = await runAudit(db, { agencyId: w.agencyId, temporal: suite.temporal, minAgeMs: 0 });
  expect(audit.violations).toEqual([]);
});
