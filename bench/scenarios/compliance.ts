/**
 * #23's measures: what the compliance gate costs.
 *
 * (11) `intake_checks`: intake's answer (`POST /v1/leads` → 202), leads sent
 *      one after another, first with the lists empty (an agency with no
 *      entries, the platform's Do-Not-Call lists empty), then with them full
 *      (the agency's three lists – do_not_contact, litigator, returned_fraud –
 *      and the national and Texas DNC lists, `intakeListEntries` hashes each).
 *      The phone and email checks cannot be turned off (they always run); the
 *      third-party scrubs are off (no provider enabled) and so is the MX look-up
 *      (the bench API's default). The added p99 is the second p99 minus the
 *      first (target ≤ 5 ms); beside it, the checks' own time as intake
 *      recorded it on each lead (phone + email + suppression, `contact_checks`'s
 *      latencies), which the machine's noise does not blur.
 * (12) `ping_suppression`: the supply scenario's ping (50 at once, rounds),
 *      now carrying a phone and an email so that the suppression lists are
 *      read on the ping's path, before and after the lists hold
 *      `suppressionHashes` entries (default 10 million: nine tenths in the
 *      national DNC list, one tenth in the agency's do_not_contact list), seeded
 *      in SQL as 32-byte hashes in the stored form (bytea, same primary keys,
 *      so a look-up walks an index of that size). Target: ping p99 ≤ 50 ms.
 *      Each timed phase follows a warm-up (not counted) of as many rounds (same
 *      pings), so both read the steady state rather than a fresh stack's or a
 *      fresh seed's first pings; the warm-ups' own latency is reported apart.
 * (13) `suppression_csv`: the CSV upload's rate (bench/lib/suppression-csv.ts,
 *      as `npm run bench:suppression`) on the stack's Postgres: `csvLines`
 *      numbers into an agency's do_not_contact list (libphonenumber per line)
 *      and the same count in the registry's format into national_dnc; lines
 *      per second and the load generator's peak RSS (constant memory).
 */
import crypto from 'node:crypto';

import { inArray, sql } from 'drizzle-orm';

import { createAgency as createAgencyRow } from '../../db/agencies';
import { leads } from '../../db/schema';
import type { Schemas } from '../../packages/client';
import { bearer } from '../../packages/client';
import { createAgency, createCampaign, leadBody, until } from '../lib/client';
import { cpuText, fmt, ratio, summarize, type Summary } from '../lib/stats';
import { measureCsvLoad } from '../lib/suppression-csv';
import { type BenchContext, type ScenarioResult, settle } from './context';
import { CONCURRENCY, measurePings, pingAgency } from './supply';

const ADDED_P99_TARGET_MS = 5;
const PING_P99_TARGET_MS = 50;
const CHUNK = 1_000_000;

/**
 * Inserts `n` distinct 32-byte hashes (sha256 of a tag and a counter: what a keyed HMAC looks like to an index)
 * into a list, a million rows per statement, each in hash order. `into`: the agency's list, or a DNC list.
 */
async function seedHashes(
  ctx: BenchContext,
  n: number,
  into: { agencyId: string; list: string } | { dnc: 'national_dnc' } | { dnc: 'state_dnc'; state: string },
): Promise<void> {
  const tag = `bench-${crypto.randomUUID().slice(0, 8)}-${'agencyId' in into ? `${into.agencyId}-${into.list}` : `${into.dnc}-${'state' in into ? into.state : ''}`}-`;
  for (let from = 1; from <= n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK - 1);
    const hashes = sql`SELECT sha256(convert_to(${tag} || g, 'UTF8')) AS h FROM generate_series(${from}::int, ${to}::int) g ORDER BY 1`;
    if ('agencyId' in into)
      await ctx.database.db.execute(sql`INSERT INTO suppression_entries (agency_id, list, kind, hmac, source)
        SELECT ${into.agencyId}::uuid, ${into.list}, 'phone', h, 'csv' FROM (${hashes}) s`);
    else
      await ctx.database.db.execute(sql`INSERT INTO dnc_entries (list, state, hmac)
        SELECT ${into.dnc}, ${'state' in into ? into.state : ''}, h FROM (${hashes}) s`);
    if (n > CHUNK) ctx.log(`  … ${to.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} hashes`);
  }
}

async function analyzeLists(ctx: BenchContext): Promise<void> {
  await ctx.database.db.execute(sql`ANALYZE suppression_entries`);
  await ctx.database.db.execute(sql`ANALYZE dnc_entries`);
}

/** A gauge's value from the API's /metrics (null: not exported, e.g. LW_DNC_FILTER=false). */
async function apiGauge(ctx: BenchContext, name: string): Promise<number | null> {
  const text = await (await fetch(`${ctx.stack.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : null;
}

/**
 * After seeding the platform lists in SQL (their trigger announces it on the bus), waits until the API's Do-Not-Call
 * filter is rebuilt over at least `entries` entries, so the pings measured are the ones production serves; answers
 * the filter's build seconds and size, or null when the API runs without one.
 */
async function dncFilterRebuilt(
  ctx: BenchContext,
  entries: number,
): Promise<{ buildSeconds: number; mb: number } | null> {
  if ((await apiGauge(ctx, 'leadwire_dnc_filter_ready')) === null) return null;
  await until(
    async () =>
      (await apiGauge(ctx, 'leadwire_dnc_filter_ready')) === 1 &&
      ((await apiGauge(ctx, 'leadwire_dnc_filter_entries')) ?? 0) >= entries,
    600_000,
    'the API to rebuild its Do-Not-Call filter',
    500,
  );
  const buildSeconds = (await apiGauge(ctx, 'leadwire_dnc_filter_build_seconds')) ?? 0;
  const mb = Math.round(((await apiGauge(ctx, 'leadwire_dnc_filter_bytes')) ?? 0) / 104857.6) / 10;
  ctx.log(
    `the API's Do-Not-Call filter: ${entries.toLocaleString('en-US')}+ entries, ${mb} MB, built in ${buildSeconds} s`,
  );
  return { buildSeconds, mb };
}

/** `n` leads one after another (after 5 not counted): the 202's latency, and the lead ids. */
async function intakeRun(
  ctx: BenchContext,
  adminKey: string,
  campaignId: string,
  n: number,
): Promise<{ latency: Summary; ids: string[] }> {
  const post = async () => {
    const r = await ctx.api.timed(
      ctx.api.client.POST('/v1/leads', { headers: bearer(adminKey), body: leadBody(campaignId) }),
    );
    if (r.status !== 202 || !r.data) throw new Error(`intake: ${r.status} ${JSON.stringify(r.error).slice(0, 300)}`);
    if (r.data.lead.status === 'manual_review') throw new Error(`intake: a bench lead was held in review`);
    return { ms: r.ms, id: r.data.lead.id };
  };
  for (let i = 0; i < 5; i++) await post();
  const ms: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await post();
    ms.push(r.ms);
    ids.push(r.id);
  }
  return { latency: summarize(ms), ids };
}

/** The checks' own time per lead as intake recorded it: their sum, and each check's. */
async function recordedChecks(
  ctx: BenchContext,
  ids: string[],
): Promise<{ total: Summary; byCheck: Record<string, Summary> }> {
  const rows = await ctx.database.db.select({ checks: leads.contactChecks }).from(leads).where(inArray(leads.id, ids));
  const total: number[] = [];
  const byCheck: Record<string, number[]> = {};
  for (const r of rows) {
    let sum = 0;
    for (const c of r.checks ?? []) {
      sum += c.latencyMs ?? 0;
      (byCheck[c.check] ??= []).push(c.latencyMs ?? 0);
    }
    total.push(sum);
  }
  return {
    total: summarize(total),
    byCheck: Object.fromEntries(Object.entries(byCheck).map(([k, v]) => [k, summarize(v)])),
  };
}

export async function intakeChecks(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.sizes.intakeCheckLeads;
  const m = ctx.sizes.intakeListEntries;
  // Campaigns without buyers: each lead is stored, routed to nobody and left; only intake's answer is timed.
  const off = await createAgency(ctx.api, 'bench: intake checks, lists empty');
  const offCampaign = await createCampaign(ctx.api, off.adminKey, {});
  const on = await createAgency(ctx.api, 'bench: intake checks, lists full');
  const onCampaign = await createCampaign(ctx.api, on.adminKey, {});
  await settle(ctx, 60_000);
  const empty = await intakeRun(ctx, off.adminKey, offCampaign, n);
  const seedStarted = performance.now();
  for (const list of ['do_not_contact', 'litigator', 'returned_fraud'])
    await seedHashes(ctx, m, { agencyId: on.agencyId, list });
  await seedHashes(ctx, m, { dnc: 'national_dnc' });
  await seedHashes(ctx, m, { dnc: 'state_dnc', state: 'TX' });
  await analyzeLists(ctx);
  const seedSeconds = Math.round((performance.now() - seedStarted) / 100) / 10;
  const dncFilter = await dncFilterRebuilt(ctx, 2 * m);
  await settle(ctx, 60_000);
  const full = await intakeRun(ctx, on.adminKey, onCampaign, n);
  const checksEmpty = await recordedChecks(ctx, empty.ids);
  const checksFull = await recordedChecks(ctx, full.ids);
  const added = {
    p50:
      full.latency.p50 === null || empty.latency.p50 === null
        ? null
        : Math.round((full.latency.p50 - empty.latency.p50) * 10) / 10,
    p99:
      full.latency.p99 === null || empty.latency.p99 === null
        ? null
        : Math.round((full.latency.p99 - empty.latency.p99) * 10) / 10,
  };
  ctx.log(
    `intake: lists empty ${fmt(empty.latency)}; full ${fmt(full.latency)}; added p99 ${added.p99} ms; ` +
      `checks as recorded (full): ${fmt(checksFull.total)}`,
  );
  return {
    scenario: 'intake_checks',
    figures: {
      leads: n,
      entriesPerList: m,
      lists: ['do_not_contact', 'litigator', 'returned_fraud', 'national_dnc', 'state_dnc TX'],
      scrubs: 'off',
      mx: 'off',
      seedSeconds,
      dncFilter,
      listsEmpty: { intake202: empty.latency, checks: checksEmpty },
      listsFull: { intake202: full.latency, checks: checksFull },
      added,
    },
    headline:
      `intake 202, ${n} leads one by one: lists empty p50 ${empty.latency.p50} p99 ${empty.latency.p99} ms; ` +
      `lists full (${m.toLocaleString('en-US')} hashes in each of the agency's 3 lists, national and TX DNC) p50 ${full.latency.p50} p99 ${full.latency.p99} ms: ` +
      `added p99 ${added.p99} ms (target ≤ ${ADDED_P99_TARGET_MS}); the checks' own time as recorded on each lead (phone + email + suppression) ` +
      `p50 ${checksFull.total.p50} p99 ${checksFull.total.p99} ms (lists empty: p99 ${checksEmpty.total.p99}); scrubs and MX off`,
  };
}

export async function pingSuppression(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.sizes.suppressionHashes;
  const rounds = ctx.sizes.pingRounds;
  const { agencyId, campaignId, key } = await pingAgency(ctx, 'bench-ping-suppression');
  let i = 0;
  const body = (): Schemas['PingCreate'] => {
    const k = i++;
    return {
      campaignId,
      fields: {
        zip: '78701',
        state: 'TX',
        answers: { homeowner: 'yes' },
        phone: `737${3_000_000 + (k % 6_000_000)}`,
        email: `ping${k}@bench.example`,
      },
    };
  };
  // Each timed phase follows a warm-up of as many rounds, same shape (so 1,000 pings at full size, 100 at the CI
  // size), not counted: the first phase runs on a fresh stack (the API's JIT, the pools filling), the second after
  // the seed and the filter's rebuild; both measure the steady state, and the warm-ups' own tail is reported apart.
  const warmupRounds = rounds;
  await dncFilterRebuilt(ctx, 0); // the API's first build (or the one after an earlier scenario's lists)
  const before = await measurePings(ctx, key, body, rounds, warmupRounds);
  ctx.log(
    `pings (${CONCURRENCY} concurrent) with the lists empty: ${fmt(before.pings)}; its warm-up (not counted): ${fmt(before.warmup)}`,
  );
  const national = Math.round(n * 0.9);
  const seedStarted = performance.now();
  await seedHashes(ctx, national, { dnc: 'national_dnc' });
  await seedHashes(ctx, n - national, { agencyId, list: 'do_not_contact' });
  await analyzeLists(ctx);
  const seedSeconds = Math.round((performance.now() - seedStarted) / 1000);
  const size = (await ctx.database.db.execute(
    sql`SELECT (pg_total_relation_size('dnc_entries') + pg_total_relation_size('suppression_entries')) / 1048576 AS mb`,
  )) as unknown as { rows: { mb: string }[] };
  const listsMb = Number(size.rows[0]?.mb ?? 0);
  ctx.log(`seeded ${n.toLocaleString('en-US')} hashes in ${seedSeconds} s (${listsMb} MB with their indexes)`);
  const dncFilter = await dncFilterRebuilt(ctx, national);
  // The seed's gigabytes are written back by the checkpoint that follows them (max_wal_size is 1 GB): in production a
  // list of millions is loaded once, long before the pings it affects, so that write-back is the load's, not the
  // steady state's. Done here, timed and reported, instead of during the measured pings.
  const checkpointStarted = performance.now();
  await ctx.database.db.execute(sql`CHECKPOINT`);
  const checkpointSeconds = Math.round((performance.now() - checkpointStarted) / 100) / 10;
  ctx.log(`checkpoint after the seed: ${checkpointSeconds} s`);
  const after = await measurePings(ctx, key, body, rounds, warmupRounds);
  ctx.log(
    `pings (${CONCURRENCY} concurrent) with ${n.toLocaleString('en-US')} hashes: ${fmt(after.pings)}; its warm-up (not counted): ${fmt(after.warmup)}; ` +
      `CPU ms per ping: ${cpuText(after.cpuMsPerPing)}`,
  );
  return {
    scenario: 'ping_suppression',
    figures: {
      concurrency: CONCURRENCY,
      hashes: n,
      warmupPings: warmupRounds * CONCURRENCY,
      nationalDnc: national,
      agencyDoNotContact: n - national,
      seedSeconds,
      checkpointSeconds,
      listsMb,
      dncFilter,
      before,
      after,
      p99Ratio: ratio(after.pings.p99, before.pings.p99),
    },
    headline:
      `ping (with phone and email) p99 ${after.pings.p99} ms (p50 ${after.pings.p50}) with ${CONCURRENCY} concurrent and ` +
      `${n.toLocaleString('en-US')} hashes listed (target p99 ≤ ${PING_P99_TARGET_MS}); lists empty: p99 ${before.pings.p99} ms (p50 ${before.pings.p50}); ` +
      `warm-up (not counted) of ${warmupRounds * CONCURRENCY} pings before each: p99 ${before.warmup.p99} ms (lists empty), ${after.warmup.p99} ms (hashes listed); ` +
      `seeded in ${seedSeconds} s, ${listsMb} MB, then a checkpoint of ${checkpointSeconds} s before the timed pings; ` +
      (dncFilter
        ? `the API's Do-Not-Call filter ${dncFilter.mb} MB, built in ${dncFilter.buildSeconds} s; `
        : 'no Do-Not-Call filter; ') +
      `CPU ms per ping: ${cpuText(after.cpuMsPerPing)}`,
  };
}

export async function suppressionCsv(ctx: BenchContext): Promise<ScenarioResult> {
  const lines = ctx.sizes.csvLines;
  const agency = await createAgencyRow(ctx.database.db, { name: `bench-csv-${Date.now()}` });
  const progress = (l: number) => ctx.log(`  … ${l.toLocaleString('en-US')} lines`);
  const csv = await measureCsvLoad(ctx.database.db, { agencyId: agency.id, lines, dnc: false, progress });
  ctx.log(`CSV: ${csv.lines} lines in ${csv.seconds} s (${csv.linesPerSecond}/s), peak RSS ${csv.peakRssMb} MB`);
  const dnc = await measureCsvLoad(ctx.database.db, { agencyId: agency.id, lines, dnc: true, progress });
  ctx.log(
    `registry file: ${dnc.lines} lines in ${dnc.seconds} s (${dnc.linesPerSecond}/s), peak RSS ${dnc.peakRssMb} MB`,
  );
  for (const r of [csv, dnc])
    if (r.added + r.rejected !== lines || r.rejected) throw new Error(`the load lost lines: ${JSON.stringify(r)}`);
  return {
    scenario: 'suppression_csv',
    figures: { lines, csv, dnc },
    headline:
      `${lines.toLocaleString('en-US')} numbers: agency CSV ${csv.linesPerSecond.toLocaleString('en-US')} lines/s (${csv.seconds} s, peak RSS ${csv.peakRssMb} MB); ` +
      `registry file into national DNC ${dnc.linesPerSecond.toLocaleString('en-US')} lines/s (${dnc.seconds} s, peak RSS ${dnc.peakRssMb} MB); ` +
      `target: a million in under a minute`,
  };
}
