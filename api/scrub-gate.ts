/**
 * Intake's third-party scrubs (#23 item 5): the agency's enabled providers
 * (a TCPA litigator list, a line status look-up) asked about the lead's E.164
 * number, both at once, each through the one adapter shape of
 * domain/scrubs.ts, with today's shared cache, the monthly budget and the
 * shared circuit breaker of db/scrubs.ts.
 *
 * **An outage never becomes an intake outage**: each call is bounded by the
 * provider's short timeout (default 800 ms); a timeout, a network error, a
 * non-2xx answer or an answer not in the documented shape is a failure, which
 * records the lead `not_checked` and lets it go on. Over budget and while the
 * circuit is open, no call is made and the lead is `not_checked` too. When a
 * run of failures opens the circuit, the alert goes out once for all the
 * agency's processes: the agency's audit log (by the system), a warning in the
 * log, and `leadwire_scrub_circuit_changes_total{scrub, to="open"}`.
 */
import { performance } from 'node:perf_hooks';

import type { Db } from '../db/connection';
import {
  type CachedVerdict,
  claimScrub,
  claimScrubProbe,
  dropScrubClaim,
  reserveScrubCall,
  scrubCallFailed,
  scrubCallSucceeded,
  scrubCredentials,
  scrubSettingsOf,
  type ScrubSettingsRow,
  storeScrubAnswer,
} from '../db/scrubs';
import { suppressionHasher } from '../db/suppression';
import {
  circuitState,
  nanpDigits,
  ProviderAnswerError,
  SCRUB_ADAPTERS,
  SCRUB_PROVIDERS,
  type ScrubVerdict,
} from '../domain/scrubs';
import type { ContactCheckRecord, LitigatorRule, ScrubNotChecked, ScrubRefusal } from '../domain/types';
import { CallFailed, guardedRequest } from '../lib/endpoint-http';
import { UrlRefused } from '../lib/url-guard';
import type { Metrics } from './metrics';
import { Problem } from './problem';

export interface ScrubDeps {
  db: Db;
  /** Internal hosts a provider's base URL may name (LW_WEBHOOK_ALLOWLIST's rules). */
  allowlist: string | null;
  logger: { warn(message: string, meta?: unknown): void };
  metrics: Metrics;
  /** How often a lead that meets another process's call in flight looks for its answer. */
  pollMs?: number;
}

export interface ScrubOutcome {
  checks: ContactCheckRecord[];
  /** A scrub refuses the lead (422 with this code, nothing stored). */
  refusal: ScrubRefusal | null;
  /** A litigator hit under the agency's `review` rule: stored, sent to review as `suppressed`. */
  review: boolean;
}

const ANSWER_BYTES = 64 * 1024;
const ms = (since: number) => Math.round((performance.now() - since) * 1000) / 1000;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

const CHECKS = 'leadwire_scrub_checks_total';
const CIRCUIT = 'leadwire_scrub_circuit_changes_total';

function registerMetrics(metrics: Metrics): void {
  metrics.counter(CHECKS, 'Third-party scrubs at intake by scrub, result and whether the cache answered', [
    'scrub',
    'result',
    'cached',
  ]);
  metrics.counter(
    CIRCUIT,
    "Scrub circuits opened or closed (by any of the agency's processes, counted by the one that did it)",
    ['scrub', 'to'],
  );
}

/** One call to the provider: its verdict, or a thrown failure (CallFailed, UrlRefused, ProviderAnswerError). */
async function callProvider(row: ScrubSettingsRow, digits: string, allowlist: string | null): Promise<ScrubVerdict> {
  const adapter = SCRUB_ADAPTERS[row.scrub];
  const req = adapter.request(digits, scrubCredentials(row));
  const answer = await guardedRequest(`${row.baseUrl.replace(/\/+$/, '')}${req.path}`, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    timeoutMs: row.timeoutMs,
    allowlist,
    maxBytes: ANSWER_BYTES,
  });
  if (answer.status < 200 || answer.status > 299) throw new ProviderAnswerError(`HTTP ${answer.status}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new ProviderAnswerError('the answer is not JSON');
  }
  return adapter.read(body);
}

/** A verdict as the lead's check: the scrub's refusal on a hit, `passed` when clean, `unverified` when unsure. */
function resultOf(row: ScrubSettingsRow, v: CachedVerdict): ContactCheckRecord['result'] {
  if (v.verdict === 'clean') return 'passed';
  if (v.verdict === 'unknown') return 'unverified';
  return row.scrub === 'litigator' ? 'litigator' : 'phone_disconnected';
}

/** One scrub of one number: cache, circuit, budget, call – never throws, never outlasts the timeout by much. */
async function scrubOne(
  deps: ScrubDeps,
  row: ScrubSettingsRow,
  phoneE164: string,
  hmac: string,
): Promise<ContactCheckRecord> {
  const started = performance.now();
  const now = new Date();
  const base = { check: row.scrub, provider: SCRUB_PROVIDERS[row.scrub] } as const;
  const key = { agencyId: row.agencyId, scrub: row.scrub, hmac };
  const notChecked = (why: ScrubNotChecked, detail: string): ContactCheckRecord => ({
    ...base,
    result: 'not_checked',
    latencyMs: ms(started),
    notChecked: why,
    detail,
  });
  const answered = (v: CachedVerdict, cached: boolean): ContactCheckRecord => ({
    ...base,
    result: resultOf(row, v),
    latencyMs: ms(started),
    cached,
    ...(v.status ? { status: v.status } : {}),
  });

  const digits = nanpDigits(phoneE164);
  if (!digits)
    return {
      ...base,
      result: 'skipped',
      latencyMs: ms(started),
      detail: 'the provider covers North American numbers only',
    };

  let claim = await claimScrub(deps.db, key, now);
  if (claim === 'in_flight') {
    // Another process is asking about this number right now: its answer, if it comes within our own timeout.
    const until = performance.now() + row.timeoutMs + 200;
    while (claim === 'in_flight' && performance.now() < until) {
      await sleep(deps.pollMs ?? 25);
      claim = await claimScrub(deps.db, key, now);
    }
    if (claim === 'in_flight') return notChecked('in_flight', 'another call for this number did not answer in time');
  }
  if (claim !== 'claimed') return answered(claim, true);

  const state = circuitState(row, now);
  if (
    state === 'open' ||
    (state === 'half_open' && !(await claimScrubProbe(deps.db, row, new Date(Date.now() + row.timeoutMs * 2 + 1000))))
  ) {
    await dropScrubClaim(deps.db, key, now);
    return notChecked('circuit_open', `the circuit is open since ${row.circuitOpenedAt!.toISOString()}`);
  }
  if (!(await reserveScrubCall(deps.db, row, row.monthlyBudget, now))) {
    await dropScrubClaim(deps.db, key, now);
    return notChecked('budget_exhausted', `the monthly budget of ${row.monthlyBudget} calls is spent`);
  }
  let verdict: ScrubVerdict;
  try {
    verdict = await callProvider(row, digits, deps.allowlist);
  } catch (err) {
    const why =
      err instanceof CallFailed || err instanceof ProviderAnswerError || err instanceof UrlRefused
        ? err.message
        : 'unexpected error';
    if (!(err instanceof CallFailed || err instanceof ProviderAnswerError || err instanceof UrlRefused))
      deps.logger.warn(`[scrubs] ${row.scrub} call failed unexpectedly`, err);
    await dropScrubClaim(deps.db, key, now);
    if (await scrubCallFailed(deps.db, row, why)) {
      deps.metrics.inc(CIRCUIT, { scrub: row.scrub, to: 'open' });
      deps.logger.warn(
        `[scrubs] agency ${row.agencyId}: the ${row.scrub} circuit opened (${why}); leads go on not_checked`,
      );
    }
    return notChecked('provider_failed', why);
  }
  await storeScrubAnswer(deps.db, key, now, verdict);
  if ((row.consecutiveFailures > 0 || row.circuitOpenedAt) && (await scrubCallSucceeded(deps.db, row))) {
    deps.metrics.inc(CIRCUIT, { scrub: row.scrub, to: 'closed' });
    deps.logger.warn(`[scrubs] agency ${row.agencyId}: the ${row.scrub} circuit closed`);
  }
  return answered(verdict, false);
}

/**
 * The agency's enabled scrubs on the lead's number, at once. Answers the checks for the lead's timeline and what
 * they decide: a refusal (a disconnected line; a litigator under the `refuse` rule), or review (a litigator under
 * the `review` rule), or nothing.
 */
export async function scrubLead(deps: ScrubDeps, agencyId: string, phoneE164: string): Promise<ScrubOutcome> {
  const rows = (await scrubSettingsOf(deps.db, agencyId)).filter((r) => r.enabled);
  if (!rows.length) return { checks: [], refusal: null, review: false };
  registerMetrics(deps.metrics);
  const hmac = (await suppressionHasher(deps.db, { agencyId }))({ kind: 'phone', normalised: phoneE164 });
  const checks = await Promise.all(rows.map((row) => scrubOne(deps, row, phoneE164, hmac)));
  for (const c of checks) deps.metrics.inc(CHECKS, { scrub: c.check, result: c.result, cached: String(!!c.cached) });
  const rule: LitigatorRule = rows.find((r) => r.scrub === 'litigator')?.litigatorRule ?? 'refuse';
  const disconnected = checks.some((c) => c.result === 'phone_disconnected');
  const litigator = checks.some((c) => c.result === 'litigator');
  const refusal: ScrubRefusal | null = disconnected
    ? 'phone_disconnected'
    : litigator && rule === 'refuse'
      ? 'litigator'
      : null;
  return { checks, refusal, review: !refusal && litigator };
}

/** A scrub's refusal as intake answers it: 422 with the reason code, the phone named, the check's detail. */
export function scrubProblem(outcome: ScrubOutcome, prefix = 'fields'): Problem {
  const refusal = outcome.refusal!;
  const check = outcome.checks.find((c) => c.result === refusal)!;
  const message =
    refusal === 'litigator'
      ? `the number is on ${check.provider}'s TCPA litigator list (${check.status ?? 'TCPA'})`
      : `${check.provider} reports the line ${check.status ?? 'disconnected'}`;
  return new Problem(422, refusal, `${prefix}.phone: ${message}`, {
    errors: [{ in: 'body', path: `${prefix}.phone`, message }],
  });
}
