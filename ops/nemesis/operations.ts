/**
 * The load generator: a registry of operations, each run by one or more loops with their own seeded
 * stream (rng.fork(`op:<name>:<loop>`)), so a seed replays each loop's choices. Every operation records
 * what it invoked and what it was told in the history (history.ts); the invariants (invariants.ts) judge
 * those answers against the data.
 *
 * To add one (card payments, outbound posts…): write an `Operation` – its name, how many loops, the mean
 * gap between runs, and `run`, which calls the API and records in `ctx.history.op(...)` with the ids it
 * touched – and append it to OPERATIONS. If it promises something, add the invariant that checks it.
 */
import { type Answer, call, callUntilFinal, ConnectionError, type RetryStats } from '../../test/faults/traffic';
import { leadFields } from '../../test/helpers/world';
import type { History, Ids } from './history';
import { CARD_OPERATIONS, type CardPayments } from './payments';
import type { AutoRecharges } from './recharges';
import type { Rng } from './rng';
import type { Buyer, World } from './world';

/** What the operations share: the world, the history, and what the clients learnt (for later operations). */
export interface OpContext {
  world: World;
  history: History;
  retries: RetryStats;
  /** How long a client keeps retrying one request. */
  retryDeadlineMs: number;
  /** Sales a buyer was told it won (assignment ids), for returns. */
  won: { buyerId: string; assignmentId: string; offerId: string; leadId: string | null }[];
  /** Requests still waiting for their final answer (the load's end waits for them). */
  pending: Set<Promise<unknown>>;
  /** The agency's card payments (payments.ts); without, the card operations do nothing. */
  cards?: CardPayments;
  /** The buyers on auto-recharge (recharges.ts): no other top-up goes to them. */
  recharges?: AutoRecharges;
}

export interface Operation {
  name: string;
  /** How many concurrent loops (default 1); loop i gets its own stream. */
  loops?: (world: World) => number;
  /** Mean ms between two runs of one loop (each gap is drawn from the loop's stream, ±50 %). */
  intervalMs: number;
  /**
   * Whether the loop waits for a run to end before the next (a poll); by default runs overlap, so a
   * request stuck behind a fault does not slow the load.
   */
  sequential?: boolean;
  run(ctx: OpContext, rng: Rng, loop: number): Promise<void>;
}

/** A fresh context: no retries counted, nothing won or pending yet. */
export function opContext(
  world: World,
  history: History,
  opts: Pick<OpContext, 'retryDeadlineMs' | 'cards' | 'recharges'>,
): OpContext {
  return { world, history, retries: { connectionErrors: 0, byStatus: {} }, won: [], pending: new Set(), ...opts };
}

type Told = { phase: 'ok' | 'fail' | 'info'; ids?: Ids; detail?: string };

/** A request retried (same body, same key) until a final answer; `null` when the deadline passed. */
async function final(ctx: OpContext, send: () => Promise<Answer>): Promise<Answer | null> {
  return (await callUntilFinal(send, ctx.retryDeadlineMs, ctx.retries)).answer;
}

const short = (a: Answer) => `${a.status} ${String(a.body.code ?? a.body.result ?? '')}`.trim();

let leadCounter = 0;
/** Lead fields unique in this run (distinct phone and e-mail, so intake's dedupe does not merge them). */
function freshFields(rng: Rng) {
  const n = ++leadCounter;
  return leadFields({
    firstName: `Nem${n}`,
    phone: `512${2_000_000 + ((n * 7919 + rng.int(0, 6)) % 8_000_000)}`, // valid (libphonenumber): intake checks it
    email: `nemesis${n}.${rng.int(0, 1e9)}@example.com`,
  });
}

const intake: Operation = {
  name: 'intake',
  intervalMs: 700,
  async run(ctx, rng) {
    const { campaignId } = rng.pick(ctx.world.mix);
    const key = rng.uuid();
    const body = { campaignId, fields: freshFields(rng) };
    await ctx.history.op('intake', {}, async (): Promise<Told> => {
      const a = await final(ctx, () =>
        call(ctx.world.baseUrl, 'POST', '/v1/leads', {
          key: ctx.world.adminKey,
          body,
          headers: { 'Idempotency-Key': key },
        }),
      );
      if (!a) return { phase: 'info', detail: `gave up (key ${key})` };
      if (a.status === 202) return { phase: 'ok', ids: { leadId: (a.body.lead as { id: string }).id } };
      return { phase: 'fail', detail: short(a) };
    });
  },
};

const pingPost: Operation = {
  name: 'ping-post',
  loops: (w) => w.sources.length,
  intervalMs: 1_500,
  async run(ctx, rng, loop) {
    const source = ctx.world.sources[loop]!;
    const campaignId = rng.pick(source.campaignIds);
    const fields = freshFields(rng);
    const ping = await ctx.history.op(
      'ping',
      { sourceId: source.id },
      async (): Promise<Told & { pingId?: string }> => {
        const a = await call(ctx.world.baseUrl, 'POST', '/v1/pings', {
          key: source.key,
          body: {
            campaignId,
            fields: { zip: fields.zip, state: fields.state, city: fields.city, answers: fields.answers },
          },
        });
        if (a.status !== 200) return { phase: a.status >= 500 ? 'info' : 'fail', detail: short(a) };
        const accepted = a.body.decision === 'accepted';
        return {
          phase: accepted ? 'ok' : 'fail',
          detail: `${String(a.body.decision)} ${String(a.body.reason ?? '')}`,
          pingId: String(a.body.pingId),
        };
      },
    );
    if (!ping || ping.phase !== 'ok' || !ping.pingId) return;
    await ctx.history.op('post', { sourceId: source.id }, async (): Promise<Told> => {
      const a = await final(ctx, () =>
        call(ctx.world.baseUrl, 'POST', '/v1/posts', { key: source.key, body: { pingId: ping.pingId, fields } }),
      );
      if (!a) return { phase: 'info', detail: 'gave up' };
      if (a.status === 202) return { phase: 'ok', ids: { leadId: (a.body.lead as { id: string }).id } };
      // A retry of a post that went through: the answer names the lead it made.
      if (a.body.code === 'ping_already_posted' && a.body.leadId)
        return { phase: 'ok', ids: { leadId: String(a.body.leadId) }, detail: 'already posted (a retry)' };
      return { phase: 'fail', detail: short(a) };
    });
  },
};

/** Each buyer polls its open offers and claims some, retrying with the same requestId until a final answer. */
const claims: Operation = {
  name: 'claim',
  loops: (w) => w.buyers.length,
  intervalMs: 450,
  sequential: true,
  async run(ctx, rng, loop) {
    const buyer = ctx.world.buyers[loop]!;
    let offers: { id: string }[] = [];
    try {
      const res = await call(ctx.world.baseUrl, 'GET', '/v1/offers?status=open&limit=100', {
        key: buyer.key,
        timeoutMs: 10_000,
      });
      if (res.status === 200) offers = res.body.offers as { id: string }[];
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
    }
    const seen = seenBy(buyer);
    const claimsNow: Promise<unknown>[] = [];
    for (const offer of offers) {
      if (seen.has(offer.id)) continue;
      seen.add(offer.id);
      if (rng.chance(0.5)) claimsNow.push(claim(ctx, buyer, offer.id, rng.uuid()));
    }
    // Claims run beside the next polls (a slow answer does not stop the buyer seeing new offers).
    track(ctx, Promise.allSettled(claimsNow));
  },
};

const seen = new WeakMap<Buyer, Set<string>>();
function seenBy(b: Buyer): Set<string> {
  let s = seen.get(b);
  if (!s) seen.set(b, (s = new Set()));
  return s;
}

async function claim(ctx: OpContext, buyer: Buyer, offerId: string, requestId: string): Promise<void> {
  await ctx.history.op('claim', { buyerId: buyer.id, offerId }, async (): Promise<Told> => {
    const a = await final(ctx, () =>
      call(ctx.world.baseUrl, 'POST', `/v1/offers/${offerId}/claim`, { key: buyer.key, body: { requestId } }),
    );
    if (!a) return { phase: 'info', detail: `no final answer (requestId ${requestId})` };
    if (a.status === 200 && a.body.result === 'won') {
      const assignmentId = String(a.body.assignmentId);
      const leadId = ((a.body.lead as { id?: string } | undefined)?.id as string | undefined) ?? null;
      ctx.won.push({ buyerId: buyer.id, assignmentId, offerId, leadId });
      return {
        phase: 'ok',
        ids: { assignmentId, ...(leadId ? { leadId } : {}) },
        detail: `won, charged ${a.body.charged}`,
      };
    }
    if (a.body.result === 'lost' || a.body.result === 'failed')
      return { phase: 'fail', detail: `${a.body.result} ${a.body.reason}` };
    return { phase: 'info', detail: `unexpected ${short(a)} ${JSON.stringify(a.body).slice(0, 160)}` };
  });
}

const topUp: Operation = {
  name: 'top-up',
  intervalMs: 2_500,
  async run(ctx, rng) {
    const buyer = rng.pick(ctx.world.buyers.filter((b) => !ctx.recharges?.buyerIds.includes(b.id)));
    const amount = rng.int(5, 200);
    const key = rng.uuid();
    await ctx.history.op('top-up', { buyerId: buyer.id }, async (): Promise<Told> => {
      const a = await final(ctx, () =>
        call(ctx.world.baseUrl, 'POST', `/v1/buyers/${buyer.id}/credits`, {
          key: ctx.world.adminKey,
          body: { amount },
          headers: { 'Idempotency-Key': key },
        }),
      );
      const detail = `amount=${amount} key=${key}`;
      if (!a) return { phase: 'info', detail };
      return { phase: a.status === 201 ? 'ok' : 'fail', detail: `${detail} ${short(a)}` };
    });
  },
};

/** A buyer returns a lead it won; the admin approves (refund, payout reversed) or denies it. */
const returns: Operation = {
  name: 'return',
  intervalMs: 3_000,
  async run(ctx, rng) {
    if (!ctx.won.length) return;
    const sale = ctx.won.splice(rng.int(0, ctx.won.length - 1), 1)[0]!;
    const buyer = ctx.world.buyers.find((b) => b.id === sale.buyerId)!;
    const ids: Ids = { buyerId: sale.buyerId, assignmentId: sale.assignmentId, offerId: sale.offerId };
    if (sale.leadId) ids.leadId = sale.leadId;
    const opened = await ctx.history.op('dispute', ids, async (): Promise<Told & { disputeId?: string }> => {
      const a = await final(ctx, () =>
        call(ctx.world.baseUrl, 'POST', `/v1/assignments/${sale.assignmentId}/disputes`, {
          key: buyer.key,
          body: { reason: 'nemesis: wrong number' },
        }),
      );
      if (!a) return { phase: 'info', detail: 'gave up' };
      if (a.status === 201) {
        const disputeId = (a.body.dispute as { id: string }).id;
        return { phase: 'ok', ids: { disputeId }, disputeId };
      }
      return { phase: 'fail', detail: short(a) };
    });
    if (!opened?.disputeId) return;
    const approve = rng.chance(0.6);
    await ctx.history.op(
      approve ? 'approve' : 'deny',
      { ...ids, disputeId: opened.disputeId },
      async (): Promise<Told> => {
        const a = await final(ctx, () =>
          call(ctx.world.baseUrl, 'POST', `/v1/disputes/${opened.disputeId}/resolve`, {
            key: ctx.world.adminKey,
            body: { approve },
          }),
        );
        if (!a) return { phase: 'info', detail: 'gave up' };
        return { phase: a.status === 200 ? 'ok' : 'fail', detail: short(a) };
      },
    );
  },
};

/** The registry: the load is every operation here, each with its loops. */
export const OPERATIONS: Operation[] = [intake, pingPost, claims, topUp, returns, ...CARD_OPERATIONS];

function track(ctx: OpContext, p: Promise<unknown>): void {
  ctx.pending.add(p);
  void p.finally(() => ctx.pending.delete(p)).catch(() => undefined);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Load {
  /** Stops starting operations and waits until every request in flight got its final answer (or gave up). */
  stop(): Promise<void>;
}

/** Starts every loop of every operation; each loop's stream is rng.fork(`op:<name>:<loop>`). */
export function startLoad(ctx: OpContext, rng: Rng, operations: Operation[] = OPERATIONS): Load {
  let on = true;
  const loops: Promise<void>[] = [];
  for (const op of operations) {
    const n = op.loops?.(ctx.world) ?? 1;
    for (let i = 0; i < n; i++) {
      const stream = rng.fork(`op:${op.name}:${i}`);
      loops.push(
        (async () => {
          // Loops start spread over one interval, not all at once.
          await sleep(stream.int(0, op.intervalMs));
          while (on) {
            const run = op.run(ctx, stream, i).catch((err: unknown) => {
              ctx.history.add('op', op.name, 'info', {}, `crashed: ${String(err).slice(0, 200)}`);
            });
            if (op.sequential) await run;
            else track(ctx, run);
            await sleep(Math.round(op.intervalMs * (0.5 + stream.next())));
          }
        })(),
      );
    }
  }
  return {
    async stop() {
      on = false;
      await Promise.all(loops);
      while (ctx.pending.size) await Promise.allSettled([...ctx.pending]);
    },
  };
}
