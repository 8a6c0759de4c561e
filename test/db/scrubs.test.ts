/**
 * Intake's third-party scrubs (#23 item 5) on the real Postgres, against
 * local servers speaking TCPA Litigator List's and RealPhoneValidation's
 * documented APIs (test/helpers/scrub-providers.ts): verdicts, one call per
 * number and day shared by concurrent intakes, the monthly budget held under
 * a race, the circuit breaker shared in the database (opens after N failures
 * with one alert, one half-open probe, closes on success), a hung provider
 * bounded by its timeout, and the sealed credentials in the key rotation.
 */
import { and, eq, sql } from 'drizzle-orm';

import { Metrics } from '../../api/metrics';
import { scrubLead } from '../../api/scrub-gate';
import { SYSTEM } from '../../db/audit';
import type { Database } from '../../db/connection';
import { rotateSecrets } from '../../db/key-store';
import { auditLog, scrubCache, scrubUsage } from '../../db/schema';
import { saveScrubSettings, scrubCredentials, type ScrubSettingsInput, scrubSettingsOf } from '../../db/scrubs';
import { circuitState, nanpDigits, ProviderAnswerError, SCRUB_ADAPTERS } from '../../domain/scrubs';
import type { Scrub } from '../../domain/types';
import { generateMasterKey, installKeyStore, KeyStore, keyStore, parseMasterKeys } from '../../lib/key-store';
import { openTestPglite, openTestPostgres } from '../helpers/db';
import { sample } from '../helpers/metrics';
import { type ScrubProvider, startLineStatus, startLitigatorList } from '../helpers/scrub-providers';
import { eventually } from '../helpers/temporal';
import { makeAgency } from '../helpers/world';

let database: Database;
let litigators: ScrubProvider;
let lines: ScrubProvider;
const warnings: string[] = [];

const LITIGATOR = '5125550101';
const DISCONNECTED = '5125550102';

beforeAll(async () => {
  database = await openTestPostgres();
  litigators = await startLitigatorList({ username: 'lw-user', password: 'lit-pass-1', litigators: [LITIGATOR] });
  lines = await startLineStatus({
    token: 'rpv-token-1',
    statuses: { [DISCONNECTED]: 'disconnected', '5125550103': 'disconnected-70' },
  });
});

afterAll(async () => {
  await litigators?.close();
  await lines?.close();
  await database?.close();
});

beforeEach(() => {
  litigators.mode = 'up';
  lines.mode = 'up';
});

const metrics = new Metrics();
const deps = () => ({
  db: database.db,
  allowlist: '127.0.0.1',
  logger: { warn: (m: string) => warnings.push(m) },
  metrics,
  pollMs: 5,
});

let numbers = 3000;
/** A number no other test asked about. */
const fresh = () => `+1512555${String(numbers++).padStart(4, '0')}`;

async function agencyWith(scrub: Scrub, settings: Partial<ScrubSettingsInput> = {}) {
  const agency = await makeAgency(database.db);
  await configure(agency.id, scrub, settings);
  return agency.id;
}

async function configure(agencyId: string, scrub: Scrub, settings: Partial<ScrubSettingsInput> = {}) {
  const row = await saveScrubSettings(database.db, {
    agencyId,
    scrub,
    by: SYSTEM,
    settings: {
      enabled: true,
      baseUrl: scrub === 'litigator' ? litigators.baseUrl : lines.baseUrl,
      username: scrub === 'litigator' ? 'lw-user' : null,
      secret: scrub === 'litigator' ? 'lit-pass-1' : 'rpv-token-1',
      monthlyBudget: null,
      timeoutMs: 500,
      failureThreshold: 3,
      cooldownMs: 1000,
      litigatorRule: 'refuse',
      ...settings,
    },
  });
  if (row === 'missing_secret') throw new Error('missing secret');
}

const scrub = (agencyId: string, e164: string) => scrubLead(deps(), agencyId, e164);

describe('the adapters read the documented answers', () => {
  test('TCPA Litigator List: a match, the clean map, the match map; anything else is a failure', () => {
    const read = SCRUB_ADAPTERS.litigator.read;
    expect(read({ results: { is_bad_number: true, status: 'TCPA', phone_number: '2012510414' } })).toEqual({
      verdict: 'hit',
      status: 'TCPA',
    });
    expect(read({ results: { is_bad_number: false, clean: 1 } })).toEqual({ verdict: 'clean', status: 'clean' });
    expect(read({ clean: { '9258492311': { phone_number: '9258492311' } } })).toEqual({
      verdict: 'clean',
      status: 'clean',
    });
    expect(read({ match: { '2159689511': { phone_number: '2159689511', status: 'TCPA' } }, clean: [] })).toEqual({
      verdict: 'hit',
      status: 'TCPA',
    });
    expect(() => read({ hello: 1 })).toThrow(ProviderAnswerError);
    expect(() => read([])).toThrow(ProviderAnswerError);
    const req = SCRUB_ADAPTERS.litigator.request('5125550100', { username: 'u', secret: 'p' });
    expect(req.path).toBe('/scrub/phone/');
    expect(req.headers.Authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({ phone_number: '5125550100', type: '["tcpa"]' });
  });

  test('RealPhoneValidation: connected is clean, disconnected a hit, the unsure words unknown, ERROR and unauthorized failures', () => {
    const read = SCRUB_ADAPTERS.line_status.read;
    expect(read({ status: 'connected', error_text: {} }).verdict).toBe('clean');
    expect(read({ status: 'connected-75' }).verdict).toBe('clean');
    expect(read({ status: 'disconnected' }).verdict).toBe('hit');
    for (const s of ['disconnected-70', 'pending', 'unreachable', 'restricted', 'invalid phone'])
      expect([s, read({ status: s }).verdict]).toEqual([s, 'unknown']);
    for (const s of ['ERROR', 'unauthorized', 'server-unavailable'])
      expect(() => read({ status: s })).toThrow(ProviderAnswerError);
    expect(() => read({ nothing: true })).toThrow(ProviderAnswerError);
  });

  test('only North American numbers are scrubbed; the circuit reads closed, open, half-open', () => {
    expect(nanpDigits('+15125550100')).toBe('5125550100');
    expect(nanpDigits('+442079460018')).toBeNull();
    const at = new Date('2026-12-06T10:00:00Z');
    expect(circuitState({ circuitOpenedAt: null, cooldownMs: 1000 }, at)).toBe('closed');
    expect(circuitState({ circuitOpenedAt: new Date(at.getTime() - 500), cooldownMs: 1000 }, at)).toBe('open');
    expect(circuitState({ circuitOpenedAt: new Date(at.getTime() - 1000), cooldownMs: 1000 }, at)).toBe('half_open');
  });
});

test('a litigator is refused, a clean number passes, and the second lead of the day with it is answered by the cache', async () => {
  const agencyId = await agencyWith('litigator');
  const hit = await scrub(agencyId, `+1${LITIGATOR}`);
  expect(hit.refusal).toBe('litigator');
  expect(hit.checks).toEqual([
    expect.objectContaining({
      check: 'litigator',
      result: 'litigator',
      provider: 'tcpa_litigator_list',
      cached: false,
      status: 'TCPA',
    }),
  ]);

  const number = fresh();
  const before = litigators.total();
  const first = await scrub(agencyId, number);
  expect(first).toMatchObject({ refusal: null, review: false });
  expect(first.checks[0]).toMatchObject({ check: 'litigator', result: 'passed', cached: false });
  expect(first.checks[0]!.latencyMs).toBeGreaterThan(0);
  const second = await scrub(agencyId, number);
  expect(second.checks[0]).toMatchObject({ check: 'litigator', result: 'passed', cached: true });
  expect(litigators.total() - before).toBe(1);
  expect(litigators.calls.get(number.slice(2))).toBe(1);

  // The cache holds a keyed HMAC, never the number.
  const dump = JSON.stringify(
    ((await database.db.execute(sql`SELECT * FROM scrub_cache`)) as unknown as { rows: unknown[] }).rows,
  );
  expect(dump.includes(number.slice(2))).toBe(false);

  // The agency's `review` rule keeps the lead, for review.
  await configure(agencyId, 'litigator', { litigatorRule: 'review' });
  expect(await scrub(agencyId, `+1${LITIGATOR}`)).toMatchObject({ refusal: null, review: true });
});

test('a disconnected line is refused; an unsure status is unverified; a number outside North America is skipped', async () => {
  const agencyId = await agencyWith('line_status');
  const gone = await scrub(agencyId, `+1${DISCONNECTED}`);
  expect(gone.refusal).toBe('phone_disconnected');
  expect(gone.checks[0]).toMatchObject({
    check: 'line_status',
    provider: 'real_phone_validation',
    result: 'phone_disconnected',
    status: 'disconnected',
  });
  expect((await scrub(agencyId, '+15125550103')).checks[0]).toMatchObject({
    result: 'unverified',
    status: 'disconnected-70',
  });
  const calls = lines.total();
  expect((await scrub(agencyId, '+442079460018')).checks[0]).toMatchObject({ result: 'skipped' });
  expect(lines.total()).toBe(calls);
});

test('many intakes of one number at once make one call; the others take its answer', async () => {
  const agencyId = await agencyWith('line_status');
  const number = fresh();
  const results = await Promise.all(Array.from({ length: 6 }, () => scrub(agencyId, number)));
  expect(lines.calls.get(number.slice(2))).toBe(1);
  expect(results.map((r) => r.checks[0]!.result)).toEqual(Array(6).fill('passed'));
  expect(results.filter((r) => r.checks[0]!.cached === false)).toHaveLength(1);
});

test('over the monthly budget a lead goes on not_checked, and racing intakes never spend more than the budget', async () => {
  const agencyId = await agencyWith('litigator', { monthlyBudget: 3 });
  const before = litigators.total();
  const results = await Promise.all(Array.from({ length: 8 }, () => scrub(agencyId, fresh())));
  expect(litigators.total() - before).toBe(3);
  const notChecked = results.filter((r) => r.checks[0]!.result === 'not_checked');
  expect(notChecked).toHaveLength(5);
  expect(notChecked[0]!.checks[0]).toMatchObject({ notChecked: 'budget_exhausted', provider: 'tcpa_litigator_list' });
  expect(notChecked.every((r) => r.refusal === null && !r.review)).toBe(true);
  const [usage] = await database.db.select().from(scrubUsage).where(eq(scrubUsage.agencyId, agencyId));
  expect(usage!.calls).toBe(3);
  // Spent calls left no claims behind: those numbers are asked again once there is budget.
  expect(
    (
      await database.db
        .select()
        .from(scrubCache)
        .where(and(eq(scrubCache.agencyId, agencyId), sql`verdict IS NULL`))
    ).length,
  ).toBe(0);
});

test('an outage: calls fail, leads go on not_checked, the circuit opens once (alert), one probe when it half-opens, and it closes when the provider is back', async () => {
  const agencyId = await agencyWith('litigator', { failureThreshold: 3, cooldownMs: 1000, timeoutMs: 300 });
  litigators.mode = 'down';
  const failed = [];
  for (let i = 0; i < 3; i++) failed.push(await scrub(agencyId, fresh()));
  expect(failed.map((r) => r.checks[0]).map((c) => [c!.result, c!.notChecked])).toEqual(
    Array(3).fill(['not_checked', 'provider_failed']),
  );
  expect(failed[0]!.checks[0]!.detail).toBe('HTTP 503');
  let [row] = await scrubSettingsOf(database.db, agencyId);
  expect(row!.circuitOpenedAt).not.toBeNull();
  expect(row!.consecutiveFailures).toBe(3);

  // Open: no call at all, the lead goes on at once.
  const calls = litigators.total();
  const open = await scrub(agencyId, fresh());
  expect(open.checks[0]).toMatchObject({ result: 'not_checked', notChecked: 'circuit_open' });
  expect(litigators.total()).toBe(calls);

  // The alert: once, in the audit log by the system, in the log and the metric.
  const audit = await database.db.select().from(auditLog).where(eq(auditLog.agencyId, agencyId));
  const opened = audit.filter((a) => a.note?.startsWith('scrub circuit opened'));
  expect(opened).toHaveLength(1);
  expect(opened[0]).toMatchObject({
    actorType: 'system',
    changes: { 'scrub.litigator.circuit': { from: 'closed', to: 'open' } },
  });
  expect(warnings.filter((w) => w.includes(agencyId) && w.includes('circuit opened'))).toHaveLength(1);
  expect(
    sample(await metrics.render(), 'leadwire_scrub_circuit_changes_total', { scrub: 'litigator', to: 'open' }),
  ).toBeGreaterThanOrEqual(1);

  // Half-open, the provider hanging: of four intakes at once exactly one probes (and times out); the circuit reopens.
  litigators.mode = 'hang';
  await eventually(
    async () =>
      circuitState((await scrubSettingsOf(database.db, agencyId))[0]!, new Date()) === 'half_open' ? true : undefined,
    10_000,
    'the circuit half-open',
  );
  const probing = litigators.total();
  const four = await Promise.all(Array.from({ length: 4 }, () => scrub(agencyId, fresh())));
  expect(litigators.total() - probing).toBe(1);
  const probe = four.find((r) => r.checks[0]!.notChecked === 'provider_failed')!;
  expect(probe.checks[0]!.detail).toMatch(/no answer within 300 ms/);
  expect(four.filter((r) => r.checks[0]!.notChecked === 'circuit_open')).toHaveLength(3);
  [row] = await scrubSettingsOf(database.db, agencyId);
  expect(circuitState(row!, new Date())).toBe('open');

  // Back: the next probe answers, the circuit closes for everyone.
  litigators.mode = 'up';
  const back = await eventually(
    async () => {
      const r = await scrub(agencyId, fresh());
      return r.checks[0]!.result === 'passed' ? r : undefined;
    },
    10_000,
    'a probe through',
  );
  expect(back.checks[0]).toMatchObject({ cached: false });
  [row] = await scrubSettingsOf(database.db, agencyId);
  expect([row!.circuitOpenedAt, row!.consecutiveFailures]).toEqual([null, 0]);
  expect((await scrub(agencyId, fresh())).checks[0]!.result).toBe('passed');
  const closed = (await database.db.select().from(auditLog).where(eq(auditLog.agencyId, agencyId))).filter((a) =>
    a.note?.startsWith('scrub circuit closed'),
  );
  expect(closed).toHaveLength(1);
});

test('a wrong token is a failed call (not a verdict), never a refusal', async () => {
  const agencyId = await agencyWith('line_status', { secret: 'wrong-token' });
  const r = await scrub(agencyId, fresh());
  expect(r.refusal).toBeNull();
  expect(r.checks[0]).toMatchObject({ result: 'not_checked', notChecked: 'provider_failed' });
  expect(r.checks[0]!.detail).toMatch(/unauthorized/);
});

test('the credentials are sealed, never stored in clear, and move with a master key rotation', async () => {
  // A private database: the rotation rewraps every secret in it.
  const own = await openTestPglite();
  const old = keyStore();
  try {
    const agency = await makeAgency(own.db);
    const saved = await saveScrubSettings(own.db, {
      agencyId: agency.id,
      scrub: 'line_status',
      by: SYSTEM,
      settings: {
        enabled: true,
        baseUrl: lines.baseUrl,
        secret: 'very-secret-token-77',
        monthlyBudget: null,
        timeoutMs: 500,
        failureThreshold: 3,
        cooldownMs: 1000,
        litigatorRule: 'refuse',
      },
    });
    if (saved === 'missing_secret') throw new Error('missing secret');
    const dump = JSON.stringify(
      ((await own.db.execute(sql`SELECT * FROM scrub_settings`)) as unknown as { rows: unknown[] }).rows,
    );
    expect(dump.includes('very-secret-token-77')).toBe(false);
    const next = installKeyStore(
      new KeyStore([
        ...parseMasterKeys(generateMasterKey('scrubnext')),
        ...parseMasterKeys(process.env.LEADWIRE_MASTER_KEYS!),
      ]),
    );
    let pass = await rotateSecrets(own.db, 1000);
    while (pass.moved > 0) pass = await rotateSecrets(own.db, 1000);
    expect(pass.staleKeyIds).toEqual([]);
    const [row] = await scrubSettingsOf(own.db, agency.id);
    expect(KeyStore.keyIdOf(row!.secretSealed)).toBe(next.currentKeyId);
    expect(scrubCredentials(row!).secret).toBe('very-secret-token-77');
  } finally {
    installKeyStore(old);
    await own.close();
  }
});
