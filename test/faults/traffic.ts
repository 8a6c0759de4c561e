/**
 * Steady traffic against the API over HTTP, as real clients would send it:
 *
 * - an admin posting leads at a steady rate across a campaign mix (ping post
 *   with a fallback chain, shared ping post, push), each with an
 *   Idempotency-Key, retried until accepted;
 * - bot buyers polling their open offers and claiming some of them with a
 *   requestId, retried with the same requestId on 503, 5xx, 429 and
 *   connection errors until the API gives a final answer.
 *
 * Every client keeps what it was told, so a run can check the client's view
 * against the database: a buyer was charged for exactly the offers it was
 * told it won.
 */
import crypto from 'node:crypto';

import { leadFields, SERVICE_LINE } from '../helpers/world';
import { sleep } from './harness';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export class ConnectionError extends Error {}

/** One HTTP call; a network failure (refused, reset, timeout) throws ConnectionError. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(opts.key ? { Authorization: `Bearer ${opts.key}` } : {}),
        ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...opts.headers,
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw new ConnectionError(
      `${method} ${path}: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`,
    );
  }
  const text = await res.text().catch(() => '');
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

/** What the client does with an answer: keep it, or try again. */
const retryable = (a: Answer) =>
  a.status >= 500 || a.status === 429 || (a.status === 409 && a.body.code === 'idempotency_in_progress');

function retryDelay(a: Answer | null, attempt: number): number {
  const header = Number(a?.headers.get('retry-after'));
  const base = Number.isFinite(header) && header > 0 ? header * 1000 : 250 * 2 ** Math.min(attempt, 3);
  return Math.min(base, 3_000);
}

export interface RetryStats {
  connectionErrors: number;
  byStatus: Record<number, number>;
}

/** Calls until a final answer (not a retryable one), or gives up at the deadline. */
export async function callUntilFinal(
  send: () => Promise<Answer>,
  deadlineMs: number,
  stats: RetryStats,
): Promise<{ answer: Answer | null; attempts: number }> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    let answer: Answer | null = null;
    try {
      answer = await send();
      if (!retryable(answer)) return { answer, attempts: attempt };
      stats.byStatus[answer.status] = (stats.byStatus[answer.status] ?? 0) + 1;
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      stats.connectionErrors++;
    }
    if (Date.now() > deadline) return { answer: null, attempts: attempt };
    await sleep(retryDelay(answer, attempt));
  }
}

// ─── the world ───────────────────────────────────────────────────────────────

export interface BotBuyer {
  id: string;
  key: string;
  label: string;
}

export interface TrafficWorld {
  agencyId: string;
  adminKey: string;
  buyers: BotBuyer[];
  /** Campaign ids, in the order leads cycle through them. */
  mix: { campaignId: string; label: string }[];
}

export interface WorldOptions {
  /** Seconds of each ping-post window. */
  windowSeconds?: number;
  bots?: number;
  credits?: number;
  /** The shared campaign's daily cap (default 12). */
  sharedDailyCap?: number;
  /** Each bot's webhook: its receiver's URL, and the signing secret the API answered (the nemesis campaign). */
  webhooks?: { url(buyerId: string): string; secret(buyerId: string, secret: string): void };
}

/** A request retried until a final answer, which must be a success (building a world). */
export async function must(
  baseUrl: string,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const stats: RetryStats = { connectionErrors: 0, byStatus: {} };
  const { answer } = await callUntilFinal(() => call(baseUrl, method, path, { key, body }), 30_000, stats);
  if (!answer || answer.status >= 300)
    throw new Error(`${method} ${path}: ${answer?.status} ${JSON.stringify(answer?.body)}`);
  return answer.body;
}

/**
 * An agency with bot buyers (one with a daily cap, one with few credits) and
 * four campaigns: ping post → fallback ping post (one bot in its pool) →
 * manual review; shared ping post (2 winners, a campaign cap) → push; push
 * round robin.
 */
export async function buildTrafficWorld(
  baseUrl: string,
  rootToken: string,
  opts: WorldOptions = {},
): Promise<TrafficWorld> {
  const windowSeconds = opts.windowSeconds ?? 2;
  const created = await must(baseUrl, 'POST', '/v1/agencies', rootToken, {
    name: `faults-${crypto.randomUUID().slice(0, 8)}`,
  });
  const adminKey = created.adminKey as string;
  const agencyId = (created.agency as { id: string }).id;
  await must(baseUrl, 'POST', '/v1/service-lines', adminKey, { key: SERVICE_LINE, name: 'Roofing' });

  const buyers: BotBuyer[] = [];
  const n = opts.bots ?? 4;
  for (let i = 0; i < n; i++) {
    const label = i === 0 ? 'capped' : i === 1 ? 'poor' : `bot${i}`;
    const b = await must(baseUrl, 'POST', '/v1/buyers', adminKey, {
      name: `${label}-${i}`,
      serviceLines: [SERVICE_LINE],
      ...(label === 'capped' ? { caps: { daily: 4 } } : {}),
    });
    const id = (b.buyer as { id: string }).id;
    if (opts.webhooks) {
      opts.webhooks.secret(id, b.webhookSecret as string);
      await must(baseUrl, 'PATCH', `/v1/buyers/${id}`, adminKey, { delivery: { webhookUrl: opts.webhooks.url(id) } });
    }
    await must(baseUrl, 'POST', `/v1/buyers/${id}/credits`, adminKey, {
      amount: label === 'poor' ? 45 : (opts.credits ?? 100_000),
    });
    buyers.push({ id, key: b.apiKey as string, label });
  }

  const campaign = async (body: Record<string, unknown>) =>
    (
      (
        await must(baseUrl, 'POST', '/v1/campaigns', adminKey, {
          name: `c-${crypto.randomUUID().slice(0, 8)}`,
          serviceLine: SERVICE_LINE,
          price: { base: 10 },
          ...body,
        })
      ).campaign as { id: string }
    ).id;
  const push = await campaign({ mode: 'push', pushStrategy: 'round_robin' });
  // The fallback's pool is one bot, so some leads find nobody and end in manual review.
  const second = await campaign({
    mode: 'ping_post',
    claimWindowSeconds: windowSeconds,
    buyerIds: [buyers[buyers.length - 1]!.id],
  });
  const first = await campaign({ mode: 'ping_post', claimWindowSeconds: windowSeconds, fallbackCampaignId: second });
  const shared = await campaign({
    mode: 'ping_post',
    claimWindowSeconds: windowSeconds,
    maxWinners: 2,
    caps: { daily: opts.sharedDailyCap ?? 12 },
    fallbackCampaignId: push,
    price: { base: 7 },
  });
  return {
    agencyId,
    adminKey,
    buyers,
    mix: [
      { campaignId: first, label: 'ping_post→fallback' },
      { campaignId: shared, label: 'shared→push' },
      { campaignId: first, label: 'ping_post→fallback' },
      { campaignId: push, label: 'push' },
    ],
  };
}

// ─── the traffic ─────────────────────────────────────────────────────────────

export interface ClaimRecord {
  buyerId: string;
  offerId: string;
  requestId: string;
  startedAt: number;
  endedAt: number | null;
  attempts: number;
  /** The final answer: won, or lost/failed with the reason; gave_up when the deadline passed. */
  outcome: 'won' | 'lost' | 'failed' | 'gave_up' | 'error' | null;
  reason: string | null;
  status: number | null;
}

export interface LeadRecord {
  idempotencyKey: string;
  campaignId: string;
  leadId: string | null;
  submittedAt: number;
  acceptedAt: number | null;
  attempts: number;
  error: string | null;
}

export interface TrafficOptions {
  leadsPerSecond: number;
  /** Chance that a bot claims an offer it sees (decided once per bot and offer). */
  claimProbability?: number;
  pollMs?: number;
  /** How long a client keeps retrying one request before giving up. */
  retryDeadlineMs?: number;
}

/** Deterministic per (bot, offer): the same bot decides the same way on every poll. */
function wants(buyerId: string, offerId: string, p: number): boolean {
  const h = crypto.createHash('sha256').update(`${buyerId}:${offerId}`).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000 < p;
}

export class Traffic {
  readonly leads: LeadRecord[] = [];
  readonly claims: ClaimRecord[] = [];
  readonly retries: RetryStats = { connectionErrors: 0, byStatus: {} };
  polls = 0;
  pollFailures = 0;
  private leadsOn = false;
  private botsOn = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly loops: Promise<void>[] = [];

  constructor(
    readonly baseUrl: string,
    readonly world: TrafficWorld,
    readonly opts: TrafficOptions,
  ) {}

  start(): void {
    this.leadsOn = true;
    this.botsOn = true;
    this.loops.push(this.leadLoop());
    for (const b of this.world.buyers) this.loops.push(this.botLoop(b));
  }

  /** Claims sent and not yet answered for good. */
  claimsInFlight(): number {
    return this.claims.filter((c) => c.endedAt === null).length;
  }

  leadsInFlight(): number {
    return this.leads.filter((l) => l.acceptedAt === null && l.error === null).length;
  }

  /** Stops new leads and waits until every submitted one got its final answer. */
  async stopLeads(): Promise<void> {
    this.leadsOn = false;
    await this.settle();
  }

  /** Stops everything and waits for every request to end. */
  async stop(): Promise<void> {
    this.leadsOn = false;
    this.botsOn = false;
    await Promise.all(this.loops);
    await this.settle();
  }

  private async settle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private async leadLoop(): Promise<void> {
    const gap = 1000 / this.opts.leadsPerSecond;
    let next = Date.now();
    let i = this.leads.length;
    while (this.leadsOn) {
      const { campaignId } = this.world.mix[i++ % this.world.mix.length]!;
      void this.track(this.submitLead(campaignId));
      next += gap;
      await sleep(Math.max(0, next - Date.now()));
    }
  }

  private async submitLead(campaignId: string): Promise<void> {
    const record: LeadRecord = {
      idempotencyKey: crypto.randomUUID(),
      campaignId,
      leadId: null,
      submittedAt: Date.now(),
      acceptedAt: null,
      attempts: 0,
      error: null,
    };
    this.leads.push(record);
    const body = { campaignId, fields: leadFields() };
    const { answer, attempts } = await callUntilFinal(
      () =>
        call(this.baseUrl, 'POST', '/v1/leads', {
          key: this.world.adminKey,
          body,
          headers: { 'Idempotency-Key': record.idempotencyKey },
        }),
      this.opts.retryDeadlineMs ?? 120_000,
      this.retries,
    );
    record.attempts = attempts;
    if (answer?.status === 202) {
      record.leadId = (answer.body.lead as { id: string }).id;
      record.acceptedAt = Date.now();
    } else {
      record.error = answer ? `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}` : 'gave up';
    }
  }

  private async botLoop(bot: BotBuyer): Promise<void> {
    const seen = new Set<string>();
    const p = this.opts.claimProbability ?? 0.4;
    while (this.botsOn) {
      try {
        const res = await call(this.baseUrl, 'GET', '/v1/offers?status=open&limit=100', {
          key: bot.key,
          timeoutMs: 10_000,
        });
        this.polls++;
        if (res.status === 200) {
          for (const offer of res.body.offers as { id: string }[]) {
            if (seen.has(offer.id)) continue;
            seen.add(offer.id);
            if (wants(bot.id, offer.id, p)) void this.track(this.claim(bot, offer.id));
          }
        } else {
          this.pollFailures++;
        }
      } catch (err) {
        if (!(err instanceof ConnectionError)) throw err;
        this.pollFailures++;
      }
      await sleep(this.opts.pollMs ?? 400);
    }
  }

  private async claim(bot: BotBuyer, offerId: string): Promise<void> {
    const record: ClaimRecord = {
      buyerId: bot.id,
      offerId,
      requestId: crypto.randomUUID(),
      startedAt: Date.now(),
      endedAt: null,
      attempts: 0,
      outcome: null,
      reason: null,
      status: null,
    };
    this.claims.push(record);
    try {
      const { answer, attempts } = await callUntilFinal(
        () =>
          call(this.baseUrl, 'POST', `/v1/offers/${offerId}/claim`, {
            key: bot.key,
            body: { requestId: record.requestId },
          }),
        this.opts.retryDeadlineMs ?? 120_000,
        this.retries,
      );
      record.attempts = attempts;
      record.status = answer?.status ?? null;
      if (!answer) record.outcome = 'gave_up';
      else if (answer.status === 200 && answer.body.result === 'won') record.outcome = 'won';
      else if (answer.body.result === 'lost' || answer.body.result === 'failed') {
        record.outcome = answer.body.result;
        record.reason = String(answer.body.reason);
      } else {
        record.outcome = 'error';
        record.reason = `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`;
      }
    } finally {
      record.endedAt = Date.now();
    }
  }

  /** Counts for the report. */
  summary() {
    const outcomes: Record<string, number> = {};
    for (const c of this.claims) {
      const k = c.outcome === 'won' || c.outcome === null ? String(c.outcome) : `${c.outcome}:${c.reason ?? ''}`;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    return {
      leadsSubmitted: this.leads.length,
      leadsAccepted: this.leads.filter((l) => l.acceptedAt !== null).length,
      leadsRefused: this.leads.filter((l) => l.error !== null).length,
      claims: this.claims.length,
      claimOutcomes: outcomes,
      retriedClaims: this.claims.filter((c) => c.attempts > 1).length,
      retriedLeads: this.leads.filter((l) => l.attempts > 1).length,
      retryAnswers: { ...this.retries.byStatus, connection: this.retries.connectionErrors },
      polls: this.polls,
      pollFailures: this.pollFailures,
    };
  }
}
