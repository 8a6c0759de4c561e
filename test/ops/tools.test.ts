/**
 * The ops tools on the real dev server and the real Postgres: the ledger audit
 * (ops/audit.ts, `npm run audit`) and the replay tool (`npm run replay`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';

import type { Database, DbOrTx } from '../../db/connection';
import { leadRecords } from '../../db/leads';
import { createInProcessBus } from '../../db/offer-bus';
import { type AuditReport, runAudit } from '../../ops/audit';
import { fetchLeadHistories, historyRows, linkEvents, renderTimeline, replayHistories } from '../../ops/replay';
import { auditCorrupted } from '../helpers/audit';
import { cli } from '../helpers/cli';
import { openTestPostgres } from '../helpers/db';
import { HISTORIES_DIR } from '../helpers/histories';
import { claim, useClaimsDb, waitForLeadStatus, waitForOffer } from '../helpers/lifecycle';
import { type RunningWorker, startLead, startWorker, testClient, workflowBundle } from '../helpers/temporal';
import { makeAgency, makeBuyers, makeCampaign, makeLead } from '../helpers/world';

// `npm run audit` and `npm run replay` run as their own processes (tsx, and the replay bundles the workflow code):
// a minute each is not enough on two cores that other test processes share (test/setup/run-tests.ts).
jest.setTimeout(180_000);

let database: Database;
let worker: RunningWorker;
let client: Client;
let connection: Connection;
let world: { agencyId: string; leadId: string; offerId: string; buyerIds: string[] };

/** Runs a CLI through tsx as `npm run …` would, against the test database and dev server. */
const byName = (report: AuditReport, name: string) => report.checks.find((c) => c.name === name)!;

const auditBroken = (corrupt: (tx: DbOrTx) => Promise<void>) => auditCorrupted(database.db, world.agencyId, corrupt);

beforeAll(async () => {
  database = await openTestPostgres();
  useClaimsDb(database.db);
  worker = await startWorker({ db: database.db, bus: createInProcessBus() });
  ({ client, connection } = await testClient());

  // One sold lead: two buyers targeted, the first claims and wins.
  const db = database.db;
  const agency = await makeAgency(db);
  const buyers = await makeBuyers(db, agency.id, 2, { credits: 100 });
  const campaign = await makeCampaign(db, agency.id, { claimWindowSeconds: 30, price: { base: 25 } });
  const lead = await makeLead(db, agency.id, campaign.id);
  const handle = await startLead(client, worker.taskQueue, {
    id: lead.id,
    agencyId: agency.id,
    campaignId: campaign.id,
  });
  const offer = await waitForOffer(db, lead.id);
  expect((await claim(client, offer, buyers[0]!.id)).result).toBe('won');
  await waitForLeadStatus(db, lead.id, 'sold');
  await handle.result();
  world = { agencyId: agency.id, leadId: lead.id, offerId: offer.id, buyerIds: buyers.map((b) => b.id) };
});

afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await database?.close();
});

describe('ledger audit', () => {
  test('a sold lead passes every check, and the report says how much each check looked at', async () => {
    const report = await runAudit(database.db, { agencyId: world.agencyId, temporal: client, minAgeMs: 0 });
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    const checked = Object.fromEntries(report.checks.map((c) => [c.name, c.checked]));
    expect(checked).toEqual({
      balances: 2,
      charges: 1,
      assignments: 1,
      exclusive: 1,
      winners: 1,
      attempts: 1, // the winning claim's attempt, taken by its sale
      caps: 0,
      cap_counters: 6, // the sale's day, week and month, for its buyer and for its campaign
      stripe_keys: 0,
      stripe_money: 0,
      endpoint_charges: 0, // a claim's sale, not an endpoint's
      endpoint_posts: 0,
      endpoint_reserves: 0,
      reports: 3, // the lead's day (one campaign, no source) and its day for each of the two buyers it was offered to
      workflows: 1,
      stripe: 0,
    });
    expect(byName(report, 'workflows').skipped).toBeUndefined();
    expect(byName(report, 'stripe').skipped).toBe('not asked (--stripe)');
  });

  test('finds a balance that is not its ledger, a charge without a sale, a broken winner count, a refund never paid', async () => {
    const [winner, other] = world.buyerIds as [string, string];
    const report = await auditBroken(async (tx) => {
      await tx.execute(sql`UPDATE wallets SET balance = balance + 7 WHERE buyer_id = ${other}`);
      await tx.execute(
        sql`INSERT INTO ledger_entries (buyer_id, agency_id, kind, amount, idempotency_key) VALUES (${other}, ${world.agencyId}, 'charge', -1, ${`audit-test:${other}`})`,
      );
      await tx.execute(sql`UPDATE offers SET winners = 0 WHERE id = ${world.offerId}`);
      await tx.execute(sql`UPDATE buyers SET caps = '{"daily": 0}'::jsonb WHERE id = ${winner}`);
      await tx.execute(
        sql`UPDATE assignments SET status = 'refunded' WHERE buyer_id = ${winner} AND offer_id = ${world.offerId}`,
      );
    });
    expect(report.ok).toBe(false);
    const failed = Object.fromEntries(report.checks.map((c) => [c.name, c.failed]));
    expect(failed).toMatchObject({ balances: 1, charges: 1, winners: 1, assignments: 1, exclusive: 0 });
    expect(byName(report, 'balances').violations[0]!.ids).toEqual({ buyerId: other });
    expect(byName(report, 'charges').violations[0]!.message).toMatch(/has 0 assignments/);
    expect(byName(report, 'assignments').violations[0]!.message).toMatch(/refunded.*0 refund/);
    // The refunded assignment no longer counts against the cap; a still-active one would (next test).
    expect(failed.caps).toBe(0);
  });

  test('finds a claim answered refused that was charged, and a claim attempt sold without its sale', async () => {
    const [winner, other] = world.buyerIds as [string, string];
    const report = await auditBroken(async (tx) => {
      // The winner's claim as if the buyer had been told 409 while its sale committed (the phantom charge).
      await tx.execute(
        sql`UPDATE claim_attempts SET state = 'refused', reason = 'offer_closed' WHERE offer_id = ${world.offerId} AND buyer_id = ${winner}`,
      );
      await tx.execute(
        sql`INSERT INTO claim_attempts (offer_id, buyer_id, request_id, state) VALUES (${world.offerId}, ${other}, 'audit-test', 'sold')`,
      );
    });
    const attempts = byName(report, 'attempts');
    expect(attempts).toMatchObject({ checked: 2, failed: 2 });
    expect(attempts.violations.map((v) => v.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`buyer ${other} .* sold without an assignment`)),
        expect.stringMatching(new RegExp(`buyer ${winner} .* answered refused \\(offer_closed\\) and charged`)),
      ]),
    );
    expect(report.ok).toBe(false);
  });

  test('finds a cap overrun in the agency time zone, and an exclusive lead sold twice', async () => {
    const [winner, other] = world.buyerIds as [string, string];
    const report = await auditBroken(async (tx) => {
      await tx.execute(sql`UPDATE buyers SET caps = '{"daily": 0}'::jsonb WHERE id = ${winner}`);
      // The database refuses a second exclusive sale; take its guards away inside this transaction only.
      await tx.execute(sql`ALTER TABLE offers DROP CONSTRAINT offers_winners_within_max`);
      await tx.execute(sql`DROP INDEX assignments_exclusive_lead_uq`);
      const charge = await tx.execute(
        sql`INSERT INTO ledger_entries (buyer_id, agency_id, kind, amount, idempotency_key, lead_id, offer_id)
            VALUES (${other}, ${world.agencyId}, 'charge', -25, ${`audit-test-2:${other}`}, ${world.leadId}, ${world.offerId}) RETURNING id`,
      );
      const chargeId = (charge as unknown as { rows: { id: string }[] }).rows[0]!.id;
      await tx.execute(
        sql`INSERT INTO assignments (lead_id, offer_id, buyer_id, agency_id, price, exclusive, charge_entry_id)
            VALUES (${world.leadId}, ${world.offerId}, ${other}, ${world.agencyId}, 25, true, ${chargeId})`,
      );
    });
    const failed = Object.fromEntries(report.checks.map((c) => [c.name, c.failed]));
    expect(failed).toMatchObject({ balances: 0, charges: 0, assignments: 0, exclusive: 1, winners: 1, caps: 1 });
    expect(byName(report, 'exclusive').violations[0]!.ids).toEqual({ leadId: world.leadId });
    expect(byName(report, 'caps').violations[0]!.message).toMatch(
      new RegExp(`buyer ${winner}: 1 leads in the daily period .* cap 0`),
    );
  });

  test('a lead without a workflow is found with Temporal, skipped without; `npm run audit` exits 1 on it, 0 when all hold', async () => {
    const db = database.db;
    const agency = await makeAgency(db);
    const campaign = await makeCampaign(db, agency.id);
    const orphan = await makeLead(db, agency.id, campaign.id); // stored, never routed
    try {
      const report = await runAudit(db, { agencyId: agency.id, temporal: client, minAgeMs: 0 });
      expect(byName(report, 'workflows')).toMatchObject({ checked: 1, failed: 1 });
      expect(report.violations[0]!.message).toMatch(
        new RegExp(`lead ${orphan.id} \\(routing\\) has no workflow lead-${orphan.id}`),
      );
      // Within the grace period a lead may still be starting.
      expect((await runAudit(db, { agencyId: agency.id, temporal: client })).ok).toBe(true);
      expect(byName(await runAudit(db, { agencyId: agency.id }), 'workflows').skipped).toMatch(/no Temporal client/);

      const bad = await cli('ops/audit.ts', ['--agency', agency.id, '--min-age-seconds', '0']);
      expect(bad.stdout).toMatch(/✗ workflows +1 checked +FAILED: 1 violation/);
      expect(bad.stdout).toContain(`has no workflow lead-${orphan.id}`);
      expect(bad.code).toBe(1);

      const good = await cli('ops/audit.ts', ['--agency', world.agencyId, '--min-age-seconds', '0']);
      expect(good.stdout).toMatch(/✓ balances +2 checked +ok/);
      expect(good.stdout).toMatch(/All invariants hold\./);
      expect(good.code).toBe(0);
    } finally {
      await db.execute(sql`DELETE FROM leads WHERE id = ${orphan.id}`);
    }
  });
});

describe('replay', () => {
  test("the lead's workflows replay against the current code; each row the workflow wrote sits under the history event that wrote it", async () => {
    const { leadId, histories } = await fetchLeadHistories(client, world.leadId);
    expect(leadId).toBe(world.leadId);
    expect(histories.map((h) => h.workflowId)).toEqual([`lead-${world.leadId}`]);
    const outcomes = await replayHistories(histories, { workflowBundle: await workflowBundle() });
    expect(outcomes).toEqual([expect.objectContaining({ workflowId: `lead-${world.leadId}`, ok: true })]);

    const rows = historyRows(histories[0]!.history, histories[0]!.workflowId);
    const types = rows.map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'WorkflowExecutionStarted',
        'MarkerRecorded',
        'WorkflowExecutionUpdateAccepted',
        'WorkflowExecutionUpdateCompleted',
        'TimerStarted',
        'WorkflowExecutionCompleted',
      ]),
    );
    expect(rows.filter((r) => r.type === 'MarkerRecorded').map((r) => r.text.replace(/ in \d+ ms.*/, ''))).toEqual([
      'patch lean-lifecycle',
      'local activity routeAndOpen completed',
      'local activity postAndCharge completed',
    ]);
    expect(rows.find((r) => r.type === 'WorkflowExecutionUpdateAccepted')!.text).toMatch(
      /^update claim accepted \{"offerId":"/,
    );

    const records = (await leadRecords(database.db, world.leadId))!;
    expect(records.offers).toHaveLength(1);
    expect(records.assignments).toHaveLength(1);
    const links = linkEvents(rows, records.events);
    const writer = (type: string) =>
      records.events.map((e, i) => (e.type === type ? rows[links[i]!]?.activityType : undefined)).filter(Boolean);
    // Route and open wrote the verdicts; the sale wrote the win, the dashboard delivery and, filling the offer, who lost.
    expect(writer('targeted')).toEqual(['routeAndOpen', 'routeAndOpen']);
    expect(writer('won')).toEqual(['postAndCharge']);
    expect(writer('lost')).toEqual(['postAndCharge']);
    expect(writer('delivered')).toEqual(['postAndCharge']);

    const text = renderTimeline(rows, records.events).join('\n');
    expect(text).toMatch(
      /local activity postAndCharge completed in \d+ ms \(attempt 1\) → \{"result":"won".*\n\s+└─ db: claim_attempted buyer [0-9a-f]{8}….*\n\s+└─ db: won buyer/,
    );
  });

  test('`npm run replay -- <leadId>` prints the replay verdict, the records and the timeline; a nondeterministic history exits 1', async () => {
    const ok = await cli('ops/replay.ts', [world.leadId]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(`✓ lead-${world.leadId}`);
    expect(ok.stdout).toContain(`Lead ${world.leadId}  status sold`);
    expect(ok.stdout).toMatch(/eligibility: 2 eligible, 0 excluded/);
    expect(ok.stdout).toMatch(/claim by [0-9a-f-]{36}: won/);
    expect(ok.stdout).toMatch(/└─ db: won buyer/);
    expect(ok.code).toBe(0);

    // A history (of the first lifecycle, whose steps were activities) whose first activity is not the one the code schedules first.
    const history = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, 'v1-ping-post-won.json'), 'utf8')) as {
      events: Record<string, { activityType?: { name: string } }>[];
    };
    const scheduled = history.events.find(
      (e) => e.activityTaskScheduledEventAttributes,
    )!.activityTaskScheduledEventAttributes!;
    scheduled.activityType!.name = 'someOtherActivity';
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lw-replay-')), 'changed.json');
    fs.writeFileSync(file, JSON.stringify(history));
    const bad = await cli('ops/replay.ts', ['--file', file, '--no-db']);
    expect(bad.stdout).toMatch(/✗ changed \(run [^)]+\) NONDETERMINISM: .*someOtherActivity/);
    expect(bad.code).toBe(1);
  });

  test('`--query` replays every workflow the visibility query finds', async () => {
    const res = await cli('ops/replay.ts', ['--query', `LeadId = '${world.leadId}'`]);
    expect(res.stdout).toMatch(/Replayed 1 workflow\(s\) matching/);
    expect(res.stdout).toMatch(/All 1 deterministic\./);
    expect(res.code).toBe(0);
  });
});
