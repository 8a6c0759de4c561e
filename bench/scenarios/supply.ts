/**
 * The supply side's figures: the ping answer's latency with 50 concurrent
 * pings (through the API process: auth, the eligibility rules, the recorded
 * ping) beside the same eligibility as one bare SQL query on the pool; and
 * the reports (GET /v1/reports' SQL) over a seeded agency of `reportLeads`
 * leads (default 1,000,000: 40 % sold, a tenth of those returned, half of
 * the leads from sources) by day, campaign, source and buyer, for the whole
 * range and for its last 30 days, read from the daily roll-ups (rebuilt after
 * the seed, timed) and checked against the base tables' reference query.
 */
import { sql } from 'drizzle-orm';

import { createAgency, createServiceLine } from '../../db/agencies';
import { createBuyer } from '../../db/buyers';
import { createCampaign } from '../../db/campaigns';
import { rebuildCapCounters } from '../../db/cap-counters';
import { createApiKey } from '../../db/keys';
import { topUp } from '../../db/ledger';
import { rebuildReports, type ReportGroup, runReport, runReportFromBase } from '../../db/reports';
import { createSource, setSourceCampaign } from '../../db/sources';
import type { Schemas } from '../../packages/client';
import { LightPoster } from '../lib/client';
import { cpuWindow } from '../lib/stack';
import { cpuText, fmt, summarize, type Summary } from '../lib/stats';
import { type BenchContext, type ScenarioResult, SEEDED_WORKFLOW_PREFIX } from './context';

export const CONCURRENCY = 50;

/** An agency with a ping-post campaign, 20 funded buyers (half in TX) and a source allowed on it, with its key. */
export async function pingAgency(
  ctx: BenchContext,
  name: string,
): Promise<{ agencyId: string; campaignId: string; sourceId: string; key: string }> {
  const db = ctx.database.db;
  const agency = await createAgency(db, { name: `${name}-${Date.now()}`, timeZone: 'America/Chicago' });
  await createServiceLine(db, agency.id, { key: 'roofing', name: 'Roofing' });
  const campaign = await createCampaign(db, agency.id, {
    name: 'supply',
    serviceLine: 'roofing',
    mode: 'ping_post',
    claimWindowSeconds: 60,
    price: { base: 25 },
  });
  for (let i = 0; i < 20; i++) {
    const b = await createBuyer(db, agency.id, {
      name: `b${i}`,
      serviceLines: ['roofing'],
      states: i % 2 ? ['TX'] : ['CA'],
    });
    await topUp(db, { buyerId: b.id, agencyId: agency.id, amount: 1_000_000, idempotencyKey: `bench-${b.id}` });
  }
  const source = await createSource(db, agency.id, { name: 'bench source' });
  await setSourceCampaign(db, {
    agencyId: agency.id,
    sourceId: source.id,
    campaignId: campaign.id,
    allowed: true,
    payout: { kind: 'share', shareBps: 3000 },
  });
  const { key } = await createApiKey(db, { kind: 'source', agencyId: agency.id, sourceId: source.id });
  return { agencyId: agency.id, campaignId: campaign.id, sourceId: source.id, key };
}

export interface PingFigures {
  pings: Summary;
  /** The untimed warm-up rounds' own latency (answers before the timed rounds; not in `pings`). */
  warmup: Summary;
  rateLimited: number;
  cpuMsPerPing: Record<string, number>;
}

/**
 * `rounds` rounds of CONCURRENCY pings at once, after `warmupRounds` warm-up rounds of the same shape (default one)
 * that are not counted; each answer required `accepted`, timed from the load generator; the CPU each process spent
 * per ping over the timed rounds. The warm-up's own latency is answered apart (`warmup`), so a cold start's tail is
 * visible without blurring the steady state. Through the light HTTP path (bench/lib/client.ts LightPoster): fetch's
 * own CPU would be most of the figure.
 */
export async function measurePings(
  ctx: BenchContext,
  key: string,
  body: () => Schemas['PingCreate'],
  rounds: number,
  warmupRounds = 1,
): Promise<PingFigures> {
  const poster = new LightPoster(ctx.stack.baseUrl);
  const ping = async () => {
    const t = performance.now();
    const { status, body: answer } = await poster.post<Schemas['PingAnswer']>('/v1/pings', key, body());
    if (status !== 200 && status !== 429) throw new Error(`ping answered ${status}: ${JSON.stringify(answer)}`);
    if (status === 200 && answer.decision !== 'accepted') throw new Error(`ping ${answer.decision}: ${answer.reason}`);
    return { ms: performance.now() - t, limited: status === 429 };
  };
  const roundsOf = async (n: number, onLimited: () => void): Promise<number[]> => {
    const ms: number[] = [];
    for (let r = 0; r < n; r++)
      for (const x of await Promise.all(Array.from({ length: CONCURRENCY }, ping))) {
        if (x.limited) onLimited();
        else ms.push(x.ms);
      }
    return ms;
  };
  try {
    const warmupMs = await roundsOf(warmupRounds, () => {});
    let limited = 0;
    const cpu = cpuWindow(ctx.stack);
    const pingMs = await roundsOf(rounds, () => limited++);
    const sent = rounds * CONCURRENCY;
    const cpuMsPerPing = Object.fromEntries(
      Object.entries(cpu.stopSeconds().cpu).map(([k, s]) => [k, Math.round((s * 100_000) / sent) / 100]),
    );
    return { pings: summarize(pingMs), warmup: summarize(warmupMs), rateLimited: limited, cpuMsPerPing };
  } finally {
    poster.close();
  }
}

export async function supply(
  ctx: BenchContext,
  opts: { pingRounds: number; reportLeads: number },
): Promise<ScenarioResult> {
  const db = ctx.database.db;
  const { agencyId, campaignId, sourceId, key } = await pingAgency(ctx, 'bench-supply');

  // ── pings: 50 at once, round after round ──
  const pingBody: Schemas['PingCreate'] = {
    campaignId,
    fields: { zip: '78701', state: 'TX', answers: { homeowner: 'yes' } },
  };
  const bare = async () => {
    const t = performance.now();
    await db.execute(sql`
      SELECT b.id FROM buyers b JOIN wallets w ON w.buyer_id = b.id
      WHERE b.agency_id = ${agencyId} AND b.status = 'active' AND 'roofing' = ANY (b.service_lines)
        AND (cardinality(b.zip_codes) = 0 AND cardinality(b.states) = 0 OR '78701' = ANY (b.zip_codes) OR 'TX' = ANY (b.states))
        AND w.balance >= 25`);
    return performance.now() - t;
  };
  // The pings' rounds first, under a CPU window (what each process spends per ping), then the bare query's.
  const { pings, rateLimited: limited, cpuMsPerPing } = await measurePings(ctx, key, () => pingBody, opts.pingRounds);
  const bareMs: number[] = [];
  for (let r = 0; r < opts.pingRounds; r++)
    bareMs.push(...(await Promise.all(Array.from({ length: CONCURRENCY }, bare))));
  const bareSql = summarize(bareMs);
  ctx.log(
    `pings (${CONCURRENCY} concurrent): ${fmt(pings)}; bare SQL: ${fmt(bareSql)}; rate-limited ${limited}; ` +
      `CPU ms per ping: ${cpuText(cpuMsPerPing)}`,
  );

  // ── reports over a seeded agency ──
  const seedStarted = performance.now();
  await seedReportAgency(ctx, agencyId, campaignId, sourceId, opts.reportLeads);
  const seedSeconds = Math.round((performance.now() - seedStarted) / 1000);
  // The seed wrote with the triggers off: the roll-ups are built from the base tables, as the migration backfills.
  const rebuildStarted = performance.now();
  await rebuildReports(db, agencyId);
  await db.execute(sql`ANALYZE report_lead_days`);
  await db.execute(sql`ANALYZE report_buyer_days`);
  const rebuildSeconds = Math.round((performance.now() - rebuildStarted) / 1000);
  ctx.log(`seeded ${opts.reportLeads} leads in ${seedSeconds} s; roll-ups rebuilt in ${rebuildSeconds} s`);
  const today = new Date();
  const last30 = new Date(today.getTime() - 30 * 86_400_000).toISOString().slice(0, 10);
  const reports: Record<string, { all: number; last30Days: number; rows: number }> = {};
  for (const groupBy of ['day', 'campaign', 'source', 'buyer'] as ReportGroup[]) {
    const time = async (from: string | null) => {
      const ms: number[] = [];
      let rows = 0;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const r = await runReport(db, {
          agencyId: agencyId,
          groupBy,
          range: { from, to: null, timeZone: 'America/Chicago' },
          limit: 200,
        });
        ms.push(performance.now() - t);
        rows = r.rows.length;
      }
      return { ms: Math.round(ms.sort((a, b) => a - b)[1]!), rows };
    };
    const all = await time(null);
    const recent = await time(last30);
    reports[groupBy] = { all: all.ms, last30Days: recent.ms, rows: all.rows };
    ctx.log(
      `report by ${groupBy}: ${all.ms} ms over all ${opts.reportLeads} leads, ${recent.ms} ms over the last 30 days`,
    );
  }
  // The roll-ups against the reference query (the base tables) on the last 30 days, group for group.
  for (const groupBy of ['day', 'buyer'] as ReportGroup[]) {
    const args = {
      agencyId: agencyId,
      groupBy,
      range: { from: last30, to: null, timeZone: 'America/Chicago' },
      limit: 400,
    };
    const [fast, reference] = [await runReport(db, args), await runReportFromBase(db, args)];
    if (JSON.stringify(fast) !== JSON.stringify(reference))
      throw new Error(`report by ${groupBy}: the roll-ups disagree with the base tables over the last 30 days`);
  }
  return {
    scenario: 'supply',
    figures: {
      concurrency: CONCURRENCY,
      pings,
      bareSql,
      rateLimited: limited,
      cpuMsPerPing,
      reportLeads: opts.reportLeads,
      seedSeconds,
      rebuildSeconds,
      reportMedianMs: reports,
    },
    headline:
      `ping p99 ${pings.p99} ms (p50 ${pings.p50}) with ${CONCURRENCY} concurrent, bare SQL p99 ${bareSql.p99} ms; ` +
      `reports over ${opts.reportLeads.toLocaleString('en-US')} leads (median of 3): ` +
      Object.entries(reports)
        .map(([g, r]) => `${g} ${r.all} ms (30 days ${r.last30Days} ms)`)
        .join(', '),
  };
}

/**
 * Leads spread over a year; 40 % sold through an offer with its charge and
 * assignment (and the payout when the lead came from the source); a tenth of
 * the sales returned (refund, assignment refunded, payout reversed).
 *
 * Set-based SQL in one transaction with the triggers off for it
 * (`SET LOCAL session_replication_role = replica`: the per-row ledger
 * triggers made 400,000 charges take minutes): the seed writes what the
 * triggers would have – each entry's `balance_after` (a running sum in
 * insertion order from the wallet's balance), the offers' `winners`, the
 * wallets' balances from the ledger sums – and then checks, with the triggers
 * back on, that every money invariant holds.
 */
async function seedReportAgency(
  ctx: BenchContext,
  agencyId: string,
  campaignId: string,
  sourceId: string,
  n: number,
): Promise<void> {
  const db = ctx.database.db;
  const buyers = (await db.execute(
    sql`SELECT id FROM buyers WHERE agency_id = ${agencyId} ORDER BY id`,
  )) as unknown as { rows: { id: string }[] };
  const ids = buyers.rows.map((b) => b.id);
  const buyerArray = sql.raw(`ARRAY[${ids.map((i) => `'${i}'::uuid`).join(',')}]`);
  await db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL session_replication_role = replica`);
    await tx.execute(sql`CREATE TEMP TABLE seed ON COMMIT DROP AS
      SELECT gen_random_uuid() AS lead_id, gen_random_uuid() AS offer_id, gen_random_uuid() AS assignment_id, gen_random_uuid() AS charge_id, g,
             now() - ((g % 365) || ' days')::interval - ((g % 86400) || ' seconds')::interval AS at,
             -- by blocks of ten leads, so each buyer's leads are sold 4 in 10 like everyone's (g % n would sell one buyer all)
             (${buyerArray})[1 + (g / 10) % ${ids.length}] AS buyer_id,
             g % 10 < 4 AS sold, g % 100 < 4 AS returned, g % 2 = 0 AS sourced, 20 + g % 30 AS price
      FROM generate_series(1, ${n}) g`);
    await tx.execute(sql`INSERT INTO leads (id, agency_id, campaign_id, fields, status, workflow_id, source_id, created_at)
      SELECT lead_id, ${agencyId}, ${campaignId}, jsonb_build_object('zip', '78701', 'state', 'TX'), CASE WHEN sold THEN 'sold' ELSE 'manual_review' END,
             ${SEEDED_WORKFLOW_PREFIX}::text || g, CASE WHEN sourced THEN ${sourceId}::uuid END, at FROM seed`);
    // winners: what the assignment trigger would have counted.
    await tx.execute(sql`INSERT INTO offers (id, lead_id, agency_id, campaign_id, kind, workflow_id, price, preview, status, winners, opened_at, closes_at, closed_at)
      SELECT offer_id, lead_id, ${agencyId}, ${campaignId}, 'ping_post', ${SEEDED_WORKFLOW_PREFIX}::text || g, price, '{}', CASE WHEN sold THEN 'won' ELSE 'expired' END,
             CASE WHEN sold THEN 1 ELSE 0 END, at, at + interval '60 seconds', at + interval '60 seconds'
      FROM seed WHERE g % 10 < 7`);
    // balance_after: the wallet's balance before the seed plus the running sum, charges (in g order) then refunds.
    await tx.execute(sql`INSERT INTO ledger_entries (id, buyer_id, agency_id, kind, amount, balance_after, idempotency_key, lead_id, offer_id, created_at)
      SELECT s.charge_id, s.buyer_id, ${agencyId}, 'charge', -s.price, w.balance - sum(s.price) OVER (PARTITION BY s.buyer_id ORDER BY s.g),
             'offer:' || s.offer_id || ':buyer:' || s.buyer_id, s.lead_id, s.offer_id, s.at + ((s.g % 50) || ' seconds')::interval
      FROM seed s JOIN wallets w ON w.buyer_id = s.buyer_id WHERE s.sold ORDER BY s.g`);
    await tx.execute(sql`INSERT INTO ledger_entries (buyer_id, agency_id, kind, amount, balance_after, idempotency_key, lead_id, offer_id, created_at)
      SELECT s.buyer_id, ${agencyId}, 'refund', s.price, w.balance - t.charged + sum(s.price) OVER (PARTITION BY s.buyer_id ORDER BY s.g),
             'refund:' || s.assignment_id, s.lead_id, s.offer_id, s.at + interval '1 day'
      FROM seed s JOIN wallets w ON w.buyer_id = s.buyer_id
        JOIN (SELECT buyer_id, sum(price)::int AS charged FROM seed WHERE sold GROUP BY buyer_id) t ON t.buyer_id = s.buyer_id
      WHERE s.sold AND s.returned ORDER BY s.g`);
    await tx.execute(sql`INSERT INTO assignments (id, lead_id, offer_id, buyer_id, agency_id, price, exclusive, charge_entry_id, status, created_at)
      SELECT assignment_id, lead_id, offer_id, buyer_id, ${agencyId}, price, true, charge_id, CASE WHEN returned THEN 'refunded' ELSE 'active' END,
             at + ((g % 50) || ' seconds')::interval
      FROM seed WHERE sold`);
    await tx.execute(sql`INSERT INTO source_ledger_entries (source_id, agency_id, kind, amount, balance_after, idempotency_key, lead_id, assignment_id, created_at)
      SELECT ${sourceId}, ${agencyId}, 'payout', (s.price * 3000) / 10000, w.balance + sum((s.price * 3000) / 10000) OVER (ORDER BY s.g),
             'source-payout:' || s.assignment_id, s.lead_id, s.assignment_id, s.at
      FROM seed s, source_wallets w WHERE w.source_id = ${sourceId} AND s.sold AND s.sourced ORDER BY s.g`);
    await tx.execute(sql`INSERT INTO source_ledger_entries (source_id, agency_id, kind, amount, balance_after, idempotency_key, lead_id, assignment_id, created_at)
      SELECT ${sourceId}, ${agencyId}, 'reversal', -((s.price * 3000) / 10000),
             w.balance + t.paid - sum((s.price * 3000) / 10000) OVER (ORDER BY s.g),
             'source-reversal:' || s.assignment_id, s.lead_id, s.assignment_id, s.at + interval '1 day'
      FROM seed s, source_wallets w, (SELECT sum((price * 3000) / 10000)::int AS paid FROM seed WHERE sold AND sourced) t
      WHERE w.source_id = ${sourceId} AND s.sold AND s.returned AND s.sourced ORDER BY s.g`);
    // The wallets, from their ledgers (what the triggers would have moved).
    await tx.execute(sql`UPDATE wallets w SET balance = e.total, updated_at = now()
      FROM (SELECT buyer_id, sum(amount)::int AS total FROM ledger_entries WHERE buyer_id = ANY (${buyerArray}) GROUP BY buyer_id) e WHERE e.buyer_id = w.buyer_id`);
    await tx.execute(sql`UPDATE source_wallets w SET balance = (SELECT coalesce(sum(amount), 0)::int FROM source_ledger_entries WHERE source_id = ${sourceId}), updated_at = now()
      WHERE w.source_id = ${sourceId}`);
    await tx.execute(sql`SET LOCAL session_replication_role = origin`);
    // The cap counters, from the seeded sales (what each sale's transaction would have counted).
    await rebuildCapCounters(tx, { agencyId });
    await verifySeed(tx, agencyId, sourceId);
  });
  await db.execute(sql`ANALYZE leads`);
  await db.execute(sql`ANALYZE assignments`);
  await db.execute(sql`ANALYZE ledger_entries`);
  await db.execute(sql`ANALYZE source_ledger_entries`);
  await db.execute(sql`ANALYZE offers`);
}

/** The invariants the triggers keep, checked on the seeded agency; a broken one fails the scenario. */
async function verifySeed(
  tx: Pick<BenchContext['database']['db'], 'execute'>,
  agencyId: string,
  sourceId: string,
): Promise<void> {
  const checks: Record<string, ReturnType<typeof sql>> = {
    'wallet balance is not the sum of its ledger': sql`SELECT count(*)::int AS n FROM wallets w JOIN buyers b ON b.id = w.buyer_id
      WHERE b.agency_id = ${agencyId} AND w.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger_entries e WHERE e.buyer_id = w.buyer_id)`,
    'wallet balance is not its last seeded entry’s balance_after': sql`SELECT count(*)::int AS n FROM wallets w JOIN buyers b ON b.id = w.buyer_id
      WHERE b.agency_id = ${agencyId} AND w.balance <> coalesce(
        (SELECT max(balance_after) FROM ledger_entries e WHERE e.buyer_id = w.buyer_id AND e.kind = 'refund'),
        (SELECT min(balance_after) FROM ledger_entries e WHERE e.buyer_id = w.buyer_id AND e.kind = 'charge'), w.balance)`,
    'negative balance_after': sql`SELECT count(*)::int AS n FROM ledger_entries WHERE agency_id = ${agencyId} AND balance_after < 0`,
    'source wallet is not the sum of its ledger': sql`SELECT count(*)::int AS n FROM source_wallets w
      WHERE w.source_id = ${sourceId} AND w.balance <> (SELECT coalesce(sum(amount), 0) FROM source_ledger_entries e WHERE e.source_id = w.source_id)`,
    'offer winners differ from its assignments': sql`SELECT count(*)::int AS n FROM offers o
      WHERE o.agency_id = ${agencyId} AND o.winners <> (SELECT count(*) FROM assignments a WHERE a.offer_id = o.id)`,
    'sold sourced lead without its payout': sql`SELECT count(*)::int AS n FROM assignments a JOIN leads l ON l.id = a.lead_id
      WHERE a.agency_id = ${agencyId} AND l.source_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM source_ledger_entries p WHERE p.assignment_id = a.id AND p.kind = 'payout')`,
    'reversal that does not undo its payout': sql`SELECT count(*)::int AS n FROM source_ledger_entries r
      JOIN source_ledger_entries p ON p.assignment_id = r.assignment_id AND p.kind = 'payout'
      WHERE r.source_id = ${sourceId} AND r.kind = 'reversal' AND r.amount <> -p.amount`,
    'assignment without its charge': sql`SELECT count(*)::int AS n FROM assignments a
      WHERE a.agency_id = ${agencyId} AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = a.charge_entry_id AND e.kind = 'charge' AND e.amount = -a.price)`,
  };
  for (const [what, query] of Object.entries(checks)) {
    const r = (await tx.execute(query)) as unknown as { rows: { n: number }[] };
    const n = Number(r.rows[0]?.n ?? 0);
    if (n) throw new Error(`seed broke an invariant: ${what} (${n} rows)`);
  }
}
