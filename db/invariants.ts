/**
 * The ledger audit's checks: every money and sale invariant, checked across
 * the whole database (or one agency) with plain SQL, independent of the code
 * that wrote the rows. A read model: it owns no table and reads them all.
 * ops/audit.ts runs them (with the workflow check beside them) for
 * `npm run audit` and the tests that check after faults and load.
 *
 * Checks (each reports how many rows it looked at and every violation):
 * - balances:        each wallet's balance equals the sum of its ledger, and is not negative
 * - charges:         every charge entry belongs to exactly one assignment
 * - assignments:     every assignment has exactly one charge (its buyer, minus its price),
 *                    and a refunded one exactly one refund (`refund:<assignmentId>`, plus its price)
 * - exclusive:       no lead has an exclusive active assignment beside another active one
 * - winners:         no offer has more assignments than maxWinners; its winner counter matches
 * - caps:            no buyer or campaign holds more active assignments in a day, ISO week or
 *                    month (in the agency's time zone) than its cap as configured now
 * - cap_counters:    every cap counter (db/cap-counters.ts) equals a recount of the active assignments of its
 *                    buyer or campaign in its period, and every such sale is counted
 * - attempts:        no claim attempt refused (the buyer was answered a refusal) has its own sale – a `won`
 *                    event with its requestId and the charge's assignment; every attempt taken `sold` has its
 *                    assignment (db/claim-attempts.ts, migration 0009)
 * - stripe_keys:     every ledger entry under a Stripe key (`stripe:…`) is a succeeded payment's credit, a succeeded
 *                    refund's or a dispute's debit, or a won dispute's credit back: same buyer, same credits
 * - stripe_money:    every succeeded card payment has exactly one credit (under its key, or naming it), every
 *                    succeeded refund one debit, every dispute one debit and a won one its credit back; nothing
 *                    for the others; a payment's refunded and disputed credits are its rows'
 * - endpoint_charges: no charge without an accepted post: every endpoint sale (its `won` event under the sale's
 *                    key, `sale:<offer>:<buyer>`) has an accepted post under that key in endpoint_call_facts
 *                    (the post's own answer, or its status query's: step `status`, #22 item 4)
 * - endpoint_posts:   at most one buyer posted per offer while a post is unresolved: no second buyer's post
 *                    of an offer before the first buyer's post had an answer other than `unknown`
 * - endpoint_reserves: every reserve of a bid is given back (released) exactly once, its amount – the
 *                    charge of an accepted post is apart – or still held by a lead in review as
 *                    `post_unknown` (or younger than the grace); no release without its reserve
 * - reports:         the report roll-ups (with their pending deltas) agree with the base tables:
 *                    every day's figures by campaign and source, and by buyer, recomputed
 *                    as the reference report computes them (db/reports.ts, migration 0007)
 */
import { type SQL, sql } from 'drizzle-orm';

import { endpointPostKey, ledgerReleaseKey, ledgerReserveKey } from '../domain/ids';
import { stripeLedgerKey } from '../domain/payments';
import { POST_UNKNOWN } from '../domain/types';
import { counterDrift, counterKeyParts, recountCapCounters } from './cap-counters';
import type { DbOrTx } from './connection';

export interface AuditViolation {
  check: string;
  message: string;
  ids: Record<string, string>;
}

export interface AuditCheck {
  name: string;
  description: string;
  /** How many rows (wallets, entries, leads…) the check looked at. */
  checked: number;
  /** The number of violations (the list below may be cut at `maxListed`). */
  failed: number;
  violations: AuditViolation[];
  /** Why the check did not run (e.g. no Temporal client). */
  skipped?: string;
}

type Row = Record<string, unknown>;

async function rows<T extends Row>(db: DbOrTx, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const str = (v: unknown) => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v));
const num = (v: unknown) => Number(v ?? 0);

/** "sold 3 in the roll-ups, 4 in the base tables, …": the figures of a report group that differ. */
function disagreement(rolled: unknown, base: unknown): string {
  const r = rolled as Record<string, unknown>;
  const b = base as Record<string, unknown>;
  return Object.keys(b)
    .filter((k) => str(r[k]) !== str(b[k]))
    .map((k) => `${k} ${str(r[k])} in the roll-ups, ${str(b[k])} in the base tables`)
    .join(', ');
}

/** The endpoint sales' checks (#22): the nemesis campaign runs them as its own invariant. */
export const ENDPOINT_CHECKS = ['endpoint_charges', 'endpoint_posts', 'endpoint_reserves'] as const;

/**
 * A key of an offer and a buyer (domain/ids.ts: the one definition) as SQL over two columns: the key function is
 * called with markers and split around them, so the SQL builds exactly the key the code writes.
 */
function offerBuyerKey(key: (offerId: string, buyerId: string) => string, offer: SQL, buyer: SQL): SQL {
  const [before, rest] = key('\u0000', '\u0001').split('\u0000') as [string, string];
  const [between, after] = rest.split('\u0001') as [string, string];
  return sql`(${before} || ${offer}::text || ${between} || ${buyer}::text || ${after})`;
}

/** The offer id inside a post key (text), for a join an index can serve; the full key is compared as well. */
function offerOfPostKey(key: SQL): SQL {
  const [before, rest] = endpointPostKey('\u0000', '\u0001').split('\u0000') as [string, string];
  const [between] = rest.split('\u0001') as [string];
  return sql`split_part(substr(${key}, ${before.length + 1}), ${between}, 1)`;
}

/**
 * Every SQL check of the audit over the whole database (or one agency), in
 * order; the workflow check (it needs Temporal) is ops/audit.ts's. `only`: just
 * these checks. `heldGraceMs`: a reserve younger than this may still be in its
 * post (default one minute).
 */
export async function ledgerInvariants(
  db: DbOrTx,
  opts: { agencyId: string | null; maxListed: number; only?: readonly string[]; heldGraceMs?: number },
): Promise<AuditCheck[]> {
  const { agencyId, maxListed } = opts;
  /** `AND <alias>.agency_id = …` when scoped. */
  const scoped = (alias: string) => (agencyId ? sql`AND ${sql.raw(alias)}.agency_id = ${agencyId}::uuid` : sql``);
  const checks: AuditCheck[] = [];

  const check = async (
    name: string,
    description: string,
    count: SQL,
    find: SQL,
    describe: (r: Row) => { message: string; ids: Record<string, string> },
  ): Promise<void> => {
    if (opts.only && !opts.only.includes(name)) return;
    const [c] = await rows<{ n: number }>(db, count);
    const found = await rows(db, find);
    checks.push({
      name,
      description,
      checked: num(c?.n),
      failed: found.length,
      violations: found.slice(0, maxListed).map((r) => ({ check: name, ...describe(r) })),
    });
  };

  await check(
    'balances',
    "each wallet's balance equals the sum of its ledger entries and is not negative (but after a Stripe refund or dispute)",
    sql`SELECT count(*)::int AS n FROM wallets w WHERE true ${scoped('w')}`,
    sql`SELECT w.buyer_id, w.balance, COALESCE(l.total, 0)::bigint AS ledger
          FROM wallets w
          LEFT JOIN (SELECT buyer_id, SUM(amount) AS total,
                            bool_or(kind IN ('card_refund','dispute')) AS card_debits
                       FROM ledger_entries GROUP BY buyer_id) l ON l.buyer_id = w.buyer_id
         WHERE (w.balance <> COALESCE(l.total, 0) OR (w.balance < 0 AND NOT COALESCE(l.card_debits, false))) ${scoped('w')}`,
    (r) => ({
      message: `buyer ${str(r.buyer_id)}: balance ${str(r.balance)}, ledger sums to ${str(r.ledger)}`,
      ids: { buyerId: str(r.buyer_id) },
    }),
  );

  await check(
    'charges',
    'every charge entry belongs to exactly one assignment',
    sql`SELECT count(*)::int AS n FROM ledger_entries l WHERE l.kind = 'charge' ${scoped('l')}`,
    sql`SELECT l.id, l.buyer_id, l.offer_id, count(a.id)::int AS assignments
          FROM ledger_entries l LEFT JOIN assignments a ON a.charge_entry_id = l.id
         WHERE l.kind = 'charge' ${scoped('l')}
         GROUP BY l.id, l.buyer_id, l.offer_id HAVING count(a.id) <> 1`,
    (r) => ({
      message: `charge ${str(r.id)} (buyer ${str(r.buyer_id)}, offer ${str(r.offer_id)}) has ${str(r.assignments)} assignments`,
      ids: { ledgerEntryId: str(r.id), buyerId: str(r.buyer_id), offerId: str(r.offer_id) },
    }),
  );

  await check(
    'assignments',
    'every assignment has exactly one charge of its price to its buyer; a refunded one exactly one refund of it',
    sql`SELECT count(*)::int AS n FROM assignments a WHERE true ${scoped('a')}`,
    sql`SELECT a.id, a.buyer_id, a.offer_id, a.lead_id, a.status, a.price, c.kind AS charge_kind, c.amount AS charge_amount, c.buyer_id AS charge_buyer,
               r.n AS refunds, r.total AS refunded
          FROM assignments a
          LEFT JOIN ledger_entries c ON c.id = a.charge_entry_id
          LEFT JOIN LATERAL (
            SELECT count(*)::int AS n, COALESCE(SUM(amount), 0)::int AS total FROM ledger_entries x
             WHERE x.idempotency_key = 'refund:' || a.id::text AND x.kind = 'refund' AND x.buyer_id = a.buyer_id
          ) r ON true
         WHERE (c.id IS NULL OR c.kind <> 'charge' OR c.buyer_id <> a.buyer_id OR c.amount <> -a.price
                OR (a.status = 'refunded' AND (r.n <> 1 OR r.total <> a.price))
                OR (a.status <> 'refunded' AND r.n <> 0)) ${scoped('a')}`,
    (r) => ({
      message:
        `assignment ${str(r.id)} (${str(r.status)}, price ${str(r.price)}): ` +
        (r.charge_kind === null
          ? 'no charge entry'
          : `charge ${str(r.charge_kind)} ${str(r.charge_amount)} to ${str(r.charge_buyer)}`) +
        `, ${str(r.refunds)} refund(s) totalling ${str(r.refunded)}`,
      ids: { assignmentId: str(r.id), buyerId: str(r.buyer_id), offerId: str(r.offer_id), leadId: str(r.lead_id) },
    }),
  );

  await check(
    'exclusive',
    'no lead has an exclusive active assignment beside another active one',
    sql`SELECT count(DISTINCT a.lead_id)::int AS n FROM assignments a WHERE a.exclusive ${scoped('a')}`,
    sql`SELECT a.lead_id, count(*)::int AS active, array_agg(a.buyer_id::text) AS buyers
          FROM assignments a WHERE a.status = 'active' ${scoped('a')}
         GROUP BY a.lead_id HAVING count(*) > 1 AND bool_or(a.exclusive)`,
    (r) => ({
      message: `lead ${str(r.lead_id)} sold exclusively has ${str(r.active)} active assignments (buyers ${str(r.buyers)})`,
      ids: { leadId: str(r.lead_id) },
    }),
  );

  await check(
    'winners',
    'no offer has more assignments than maxWinners, and its winner counter matches them',
    sql`SELECT count(*)::int AS n FROM offers o WHERE true ${scoped('o')}`,
    sql`SELECT o.id, o.lead_id, o.max_winners, o.winners, count(a.id)::int AS assigned
          FROM offers o LEFT JOIN assignments a ON a.offer_id = o.id
         WHERE true ${scoped('o')}
         GROUP BY o.id, o.lead_id, o.max_winners, o.winners
        HAVING count(a.id) > o.max_winners OR count(a.id) <> o.winners`,
    (r) => ({
      message: `offer ${str(r.id)}: ${str(r.assigned)} assignments, maxWinners ${str(r.max_winners)}, winner counter ${str(r.winners)}`,
      ids: { offerId: str(r.id), leadId: str(r.lead_id) },
    }),
  );

  await check(
    'attempts',
    'no claim attempt answered refused was charged (its own won event and assignment), and every attempt sold has its assignment',
    sql`SELECT count(*)::int AS n FROM claim_attempts ca JOIN offers o ON o.id = ca.offer_id WHERE true ${scoped('o')}`,
    sql`SELECT ca.offer_id, ca.buyer_id, ca.request_id, ca.state, ca.reason, x.id AS assignment_id, o.lead_id
          FROM claim_attempts ca
          JOIN offers o ON o.id = ca.offer_id
          LEFT JOIN assignments x ON x.offer_id = ca.offer_id AND x.buyer_id = ca.buyer_id
         WHERE (
                 (ca.state = 'refused' AND x.id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM offer_events e
                     WHERE e.offer_id = ca.offer_id AND e.buyer_id = ca.buyer_id AND e.type = 'won'
                       AND e.data ->> 'requestId' = ca.request_id))
              OR (ca.state = 'sold' AND x.id IS NULL)
               ) ${scoped('o')}`,
    (r) => ({
      message:
        r.state === 'refused'
          ? `claim ${str(r.request_id)} of buyer ${str(r.buyer_id)} on offer ${str(r.offer_id)} was answered refused (${str(r.reason)}) and charged (assignment ${str(r.assignment_id)})`
          : `claim ${str(r.request_id)} of buyer ${str(r.buyer_id)} on offer ${str(r.offer_id)} is sold without an assignment`,
      ids: { offerId: str(r.offer_id), buyerId: str(r.buyer_id), leadId: str(r.lead_id) },
    }),
  );

  // Stripe money (#21): the keys come from the one definition (domain/payments.ts stripeLedgerKey).
  const stripeKey = sql`${stripeLedgerKey.payment('')}`;
  const [wonBefore, wonAfter] = stripeLedgerKey.disputeReversal('\u0000').split('\u0000') as [string, string];
  await check(
    'stripe_keys',
    'every ledger entry under a Stripe key is its succeeded payment, succeeded refund or dispute (or a won dispute back), same buyer, same credits',
    sql`SELECT count(*)::int AS n FROM ledger_entries l WHERE starts_with(l.idempotency_key, ${stripeKey}) ${scoped('l')}`,
    sql`SELECT l.id, l.buyer_id, l.kind, l.amount, l.idempotency_key
          FROM ledger_entries l
         WHERE starts_with(l.idempotency_key, ${stripeKey}) ${scoped('l')}
           AND NOT EXISTS (
             SELECT 1 FROM payments p
              WHERE l.kind = 'top_up' AND p.status = 'succeeded' AND ${stripeKey} || p.stripe_payment_intent_id = l.idempotency_key
                AND p.buyer_id = l.buyer_id AND p.credits = l.amount
             UNION ALL
             SELECT 1 FROM payment_refunds r
              WHERE l.kind = 'card_refund' AND r.status = 'succeeded' AND ${stripeKey} || r.stripe_refund_id = l.idempotency_key
                AND r.buyer_id = l.buyer_id AND -r.credits = l.amount
             UNION ALL
             SELECT 1 FROM payment_disputes d
              WHERE l.kind = 'dispute' AND ${stripeKey} || d.stripe_dispute_id = l.idempotency_key
                AND d.buyer_id = l.buyer_id AND -d.credits = l.amount
             UNION ALL
             SELECT 1 FROM payment_disputes d
              WHERE l.kind = 'dispute_reversal' AND d.status = 'won'
                AND ${wonBefore} || d.stripe_dispute_id || ${wonAfter} = l.idempotency_key
                AND d.buyer_id = l.buyer_id AND d.credits = l.amount)`,
    (r) => ({
      message: `ledger entry ${str(r.id)} (${str(r.kind)} ${str(r.amount)} to buyer ${str(r.buyer_id)} under ${str(r.idempotency_key)}) matches no succeeded payment, refund or dispute with those credits`,
      ids: { ledgerEntryId: str(r.id), buyerId: str(r.buyer_id) },
    }),
  );

  // Entries of a payment: under its intent's key, or naming it (a second credit under another key is caught too).
  await check(
    'stripe_money',
    'every succeeded card payment has exactly one credit of its credits, every succeeded refund one debit, every dispute one debit (and a won one its credit back); a payment counts its refunded and disputed credits',
    sql`SELECT ((SELECT count(*) FROM payments p WHERE p.status = 'succeeded' ${scoped('p')})
              + (SELECT count(*) FROM payment_refunds r WHERE true ${scoped('r')})
              + (SELECT count(*) FROM payment_disputes d WHERE true ${scoped('d')}))::int AS n`,
    sql`SELECT 'payment' AS what, p.id, p.buyer_id, p.status, p.credits, e.n, e.total, p.id AS payment_id,
               p.refunded_credits, p.disputed_credits, x.refunded, x.disputed
          FROM payments p
          LEFT JOIN LATERAL (
            SELECT count(*)::int AS n, COALESCE(SUM(l.amount), 0)::int AS total FROM ledger_entries l
             WHERE l.kind = 'top_up' AND l.buyer_id = p.buyer_id
               AND (l.idempotency_key = ${stripeKey} || p.stripe_payment_intent_id
                    OR starts_with(l.reference, 'card payment ' || p.id::text))
          ) e ON true
          LEFT JOIN LATERAL (
            SELECT (SELECT COALESCE(SUM(r.credits), 0) FROM payment_refunds r WHERE r.payment_id = p.id AND r.status = 'succeeded')::int AS refunded,
                   (SELECT COALESCE(SUM(d.credits), 0) FROM payment_disputes d WHERE d.payment_id = p.id AND d.status <> 'won')::int AS disputed
          ) x ON true
         WHERE ((p.status = 'succeeded' AND (e.n <> 1 OR e.total <> p.credits)) OR (p.status <> 'succeeded' AND e.n <> 0)
                OR p.refunded_credits <> x.refunded OR p.disputed_credits <> x.disputed) ${scoped('p')}
        UNION ALL
        SELECT 'refund', r.id, r.buyer_id, r.status, r.credits, e.n, e.total, r.payment_id, NULL, NULL, NULL, NULL
          FROM payment_refunds r
          LEFT JOIN LATERAL (
            SELECT count(*)::int AS n, COALESCE(SUM(-l.amount), 0)::int AS total FROM ledger_entries l
             WHERE l.idempotency_key = ${stripeKey} || r.stripe_refund_id
          ) e ON true
         WHERE ((r.status = 'succeeded' AND (e.n <> 1 OR e.total <> r.credits)) OR (r.status <> 'succeeded' AND e.n <> 0)) ${scoped('r')}
        UNION ALL
        SELECT 'dispute', d.id, d.buyer_id, d.status, d.credits, e.n, e.total, d.payment_id, NULL, NULL, NULL, NULL
          FROM payment_disputes d
          LEFT JOIN LATERAL (
            SELECT count(*) FILTER (WHERE l.kind = 'dispute' AND l.amount = -d.credits)::int AS n,
                   count(*) FILTER (WHERE l.kind = 'dispute_reversal' AND l.amount = d.credits)::int AS total
              FROM ledger_entries l
             WHERE l.idempotency_key IN (${stripeKey} || d.stripe_dispute_id, ${wonBefore} || d.stripe_dispute_id || ${wonAfter})
          ) e ON true
         WHERE (e.n <> 1 OR e.total <> (CASE WHEN d.status = 'won' THEN 1 ELSE 0 END)) ${scoped('d')}`,
    (r) => ({
      message:
        r.what === 'payment'
          ? `payment ${str(r.id)} (${str(r.status)}, ${str(r.credits)} credits) has ${str(r.n)} credit(s) totalling ${str(r.total)}; counts ${str(r.refunded_credits)} refunded and ${str(r.disputed_credits)} disputed, its rows ${str(r.refunded)} and ${str(r.disputed)}`
          : r.what === 'refund'
            ? `refund ${str(r.id)} of payment ${str(r.payment_id)} (${str(r.status)}, ${str(r.credits)} credits) has ${str(r.n)} debit(s) totalling ${str(r.total)}`
            : `dispute ${str(r.id)} of payment ${str(r.payment_id)} (${str(r.status)}, ${str(r.credits)} credits) has ${str(r.n)} debit(s) and ${str(r.total)} credit(s) back`,
      ids: { [`${str(r.what)}Id`]: str(r.id), buyerId: str(r.buyer_id), paymentId: str(r.payment_id) },
    }),
  );

  // Endpoint sales (#22): the keys come from the one definition (domain/ids.ts).
  const saleKeyOf = (offer: string, buyer: string) => offerBuyerKey(endpointPostKey, sql.raw(offer), sql.raw(buyer));
  await check(
    'endpoint_charges',
    "no charge without an accepted post: every endpoint sale has an accepted post under the sale's key in the endpoint log's facts",
    sql`SELECT count(*)::int AS n FROM assignments a
         WHERE EXISTS (SELECT 1 FROM offer_events e
                        WHERE e.offer_id = a.offer_id AND e.buyer_id = a.buyer_id AND e.type = 'won'
                          AND e.data ->> 'requestId' = ${saleKeyOf('a.offer_id', 'a.buyer_id')}) ${scoped('a')}`,
    sql`SELECT a.id, a.offer_id, a.lead_id, a.buyer_id, a.price, ${saleKeyOf('a.offer_id', 'a.buyer_id')} AS sale_key,
               (SELECT string_agg(f.step || ' ' || f.outcome, ',' ORDER BY f.created_at) FROM endpoint_call_facts f
                 WHERE f.buyer_id = a.buyer_id AND f.step IN ('post', 'status')
                   AND f.idempotency_key = ${saleKeyOf('a.offer_id', 'a.buyer_id')}) AS posts
          FROM assignments a
         WHERE EXISTS (SELECT 1 FROM offer_events e
                        WHERE e.offer_id = a.offer_id AND e.buyer_id = a.buyer_id AND e.type = 'won'
                          AND e.data ->> 'requestId' = ${saleKeyOf('a.offer_id', 'a.buyer_id')})
           AND NOT EXISTS (SELECT 1 FROM endpoint_call_facts f
                            WHERE f.buyer_id = a.buyer_id AND f.step IN ('post', 'status') AND f.outcome = 'accepted'
                              AND f.idempotency_key = ${saleKeyOf('a.offer_id', 'a.buyer_id')}) ${scoped('a')}`,
    (r) => ({
      message: `assignment ${str(r.id)} (buyer ${str(r.buyer_id)}, price ${str(r.price)}) was sold under ${str(r.sale_key)} and charged, but no post under that key was accepted (posts: ${str(r.posts) || 'none'})`,
      ids: { assignmentId: str(r.id), buyerId: str(r.buyer_id), offerId: str(r.offer_id), leadId: str(r.lead_id) },
    }),
  );

  // Each buyer's post of an offer: when it was first recorded (a status query follows its post), and when it first
  // had an answer other than unknown – its own, or the status query's accepted or rejected (#22 item 4).
  const postsByOffer = sql`
    WITH posts AS (
      SELECT o.id AS offer_id, o.lead_id, f.buyer_id,
             min(f.created_at) AS first_at,
             min(f.created_at) FILTER (WHERE (f.step = 'post' AND f.outcome <> 'unknown')
                                          OR (f.step = 'status' AND f.outcome IN ('accepted', 'rejected'))) AS resolved_at
        FROM endpoint_call_facts f
        JOIN offers o ON o.id::text = ${offerOfPostKey(sql`f.idempotency_key`)}
       WHERE f.step IN ('post', 'status') AND f.idempotency_key = ${saleKeyOf('o.id', 'f.buyer_id')} ${scoped('f')}
       GROUP BY o.id, o.lead_id, f.buyer_id
    )`;
  await check(
    'endpoint_posts',
    "at most one buyer posted per offer while a post is unresolved: no buyer's post of an offer before an earlier buyer's post of it was answered",
    sql`${postsByOffer} SELECT count(*)::int AS n FROM posts`,
    sql`${postsByOffer}
        SELECT p.offer_id, p.lead_id, p.buyer_id, p.first_at, p.resolved_at, q.buyer_id AS next_buyer_id, q.first_at AS next_at
          FROM posts p JOIN posts q ON q.offer_id = p.offer_id AND q.buyer_id <> p.buyer_id
         WHERE q.first_at > p.first_at AND (p.resolved_at IS NULL OR p.resolved_at > q.first_at)
         ORDER BY p.offer_id, q.first_at`,
    (r) => ({
      message: `offer ${str(r.offer_id)}: buyer ${str(r.next_buyer_id)} was posted at ${str(r.next_at)} while the post to buyer ${str(r.buyer_id)} (first at ${str(r.first_at)}) was ${r.resolved_at ? `unanswered until ${str(r.resolved_at)}` : 'never answered'}`,
      ids: { offerId: str(r.offer_id), leadId: str(r.lead_id), buyerId: str(r.buyer_id) },
    }),
  );

  const grace = sql`make_interval(secs => ${(opts.heldGraceMs ?? 60_000) / 1000})`;
  await check(
    'endpoint_reserves',
    'every reserve of a bid is given back exactly once (its amount), or held by a lead in review as post_unknown; no release without its reserve',
    sql`SELECT count(*)::int AS n FROM ledger_entries r WHERE r.kind = 'reserve' ${scoped('r')}`,
    sql`SELECT 'reserve' AS what, r.id, r.buyer_id, r.offer_id, r.lead_id, r.amount, x.n AS releases, x.total, l.status, l.status_reason
          FROM ledger_entries r
          LEFT JOIN leads l ON l.id = r.lead_id
          LEFT JOIN LATERAL (
            SELECT count(*)::int AS n, COALESCE(SUM(y.amount), 0)::int AS total FROM ledger_entries y
             WHERE y.idempotency_key = ${offerBuyerKey(ledgerReleaseKey, sql`r.offer_id`, sql`r.buyer_id`)}
          ) x ON true
         WHERE r.kind = 'reserve' ${scoped('r')}
           AND (x.n > 1 OR (x.n = 1 AND x.total <> -r.amount)
                OR (x.n = 0 AND r.created_at < now() - ${grace}
                    AND NOT (l.status = 'manual_review' AND l.status_reason = ${POST_UNKNOWN})))
        UNION ALL
        SELECT 'release', y.id, y.buyer_id, y.offer_id, y.lead_id, y.amount, NULL, NULL, NULL, NULL
          FROM ledger_entries y
         WHERE y.kind = 'release' ${scoped('y')}
           AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.kind = 'reserve'
                            AND r.idempotency_key = ${offerBuyerKey(ledgerReserveKey, sql`y.offer_id`, sql`y.buyer_id`)})`,
    (r) => ({
      message:
        r.what === 'release'
          ? `release ${str(r.id)} of ${str(r.amount)} to buyer ${str(r.buyer_id)} (offer ${str(r.offer_id)}) has no reserve`
          : `reserve ${str(r.id)} of ${str(-num(r.amount))} on buyer ${str(r.buyer_id)} (offer ${str(r.offer_id)}): ${str(r.releases)} release(s) totalling ${str(r.total)}; the lead is ${str(r.status)}${r.status_reason ? ` (${str(r.status_reason)})` : ''}`,
      ids: { ledgerEntryId: str(r.id), buyerId: str(r.buyer_id), offerId: str(r.offer_id), leadId: str(r.lead_id) },
    }),
  );

  // Per period bucket in the agency's zone; date_trunc('week') starts on Monday, like domain/caps.
  const buckets = sql`
    WITH sold AS (
      SELECT a.buyer_id, o.campaign_id, (a.created_at AT TIME ZONE ag.time_zone) AS local
        FROM assignments a JOIN offers o ON o.id = a.offer_id JOIN agencies ag ON ag.id = a.agency_id
       WHERE a.status = 'active' ${scoped('a')}
    ), periods(period, unit) AS (VALUES ('daily', 'day'), ('weekly', 'week'), ('monthly', 'month')),
    counted AS (
      SELECT 'buyer' AS scope, s.buyer_id AS id, p.period, date_trunc(p.unit, s.local) AS starts, count(*)::int AS n, (b.caps ->> p.period)::int AS cap
        FROM sold s CROSS JOIN periods p JOIN buyers b ON b.id = s.buyer_id
       WHERE jsonb_typeof(b.caps -> p.period) = 'number'
       GROUP BY s.buyer_id, p.period, date_trunc(p.unit, s.local), b.caps
      UNION ALL
      SELECT 'campaign', s.campaign_id, p.period, date_trunc(p.unit, s.local), count(*)::int, (c.caps ->> p.period)::int
        FROM sold s CROSS JOIN periods p JOIN campaigns c ON c.id = s.campaign_id
       WHERE jsonb_typeof(c.caps -> p.period) = 'number'
       GROUP BY s.campaign_id, p.period, date_trunc(p.unit, s.local), c.caps
    )`;
  await check(
    'caps',
    "no buyer or campaign holds more active assignments per day, ISO week or month (agency's zone) than its cap now",
    sql`${buckets} SELECT count(*)::int AS n FROM counted`,
    sql`${buckets} SELECT * FROM counted WHERE n > cap ORDER BY starts`,
    (r) => ({
      message: `${str(r.scope)} ${str(r.id)}: ${str(r.n)} leads in the ${str(r.period)} period from ${str(r.starts)} (local), cap ${str(r.cap)}`,
      ids: { [r.scope === 'buyer' ? 'buyerId' : 'campaignId']: str(r.id) },
    }),
  );

  // The cap counters (db/cap-counters.ts, #26) against a recount of the active assignments, per subject, period and
  // period start; the periods are domain/caps.ts's, so the recount is in TypeScript over one statement's snapshot.
  const counts = await recountCapCounters(db, { agencyId });
  const drift = counterDrift(counts);
  checks.push({
    name: 'cap_counters',
    description:
      "each buyer's and campaign's cap counter per day, ISO week and month (agency's zone) equals a recount of its active assignments",
    checked: new Set([...counts.stored.keys(), ...counts.recounted.keys()]).size,
    failed: drift.length,
    violations: drift.slice(0, maxListed).map((d) => {
      const { subjectId, period, periodStart } = counterKeyParts(d.key);
      return {
        check: 'cap_counters',
        message: `${subjectId}: ${d.stored} in its ${period} counter from ${periodStart}, ${d.recounted} active assignments`,
        ids: { subjectId },
      };
    }),
  });

  // One statement: the roll-ups and the base tables are read at one snapshot while sales commit.
  const agencies = sql`SELECT id FROM agencies ag WHERE true ${agencyId ? sql`AND ag.id = ${agencyId}::uuid` : sql``}`;
  const leadFigures = ['leads', 'offered', 'sold', 'unsold', 'returned', 'revenue', 'payouts', 'claim_secs', 'sales'];
  const buyerFigures = ['offered', 'sold', 'returned', 'revenue', 'payouts', 'claim_secs', 'sales', 'entries'];
  const sums = (cols: string[]) => sql.raw(cols.map((c) => `sum(${c}) AS ${c}`).join(', '));
  const differ = (cols: string[]) =>
    sql.raw(
      `ROW(${cols.map((c) => `coalesce(b.${c}, 0)`).join(', ')}) IS DISTINCT FROM ROW(${cols.map((c) => `coalesce(r.${c}, 0)`).join(', ')})`,
    );
  const figures = (cols: string[], side: 'b' | 'r') =>
    sql.raw(`jsonb_build_object(${cols.map((c) => `'${c}', coalesce(${side}.${c}, 0)`).join(', ')})`);
  // The agency's own leads (null source) keyed by the nil uuid: a FULL JOIN needs an equality.
  const nil = sql`'00000000-0000-0000-0000-000000000000'::uuid`;
  await check(
    'reports',
    "the report roll-ups (plus pending deltas) equal each day's figures from the base tables, by campaign and source and by buyer",
    // Checked: the groups the reports read, folded or still in deltas.
    sql`SELECT ((SELECT count(*) FROM (SELECT DISTINCT agency_id, day, campaign_id, source_id FROM report_lead_days WHERE agency_id IN (${agencies})
                   UNION SELECT DISTINCT agency_id, day, campaign_id, source_id FROM report_lead_deltas WHERE agency_id IN (${agencies})) g)
              + (SELECT count(*) FROM (SELECT agency_id, day, buyer_id FROM report_buyer_days WHERE agency_id IN (${agencies})
                   UNION SELECT agency_id, day, buyer_id FROM report_buyer_deltas WHERE agency_id IN (${agencies})) g))::int AS n`,
    sql`
      WITH base AS (
        SELECT f.agency_id, f.day, f.campaign_id::text AS grp, coalesce(f.source_id, ${nil})::text AS sub, ${sums(leadFigures)}
          FROM (${agencies}) ag CROSS JOIN LATERAL report_lead_facts_of_agency(ag.id) f
         GROUP BY 1, 2, 3, 4
      ), rolled AS (
        SELECT agency_id, day, campaign_id::text AS grp, coalesce(source_id, ${nil})::text AS sub, ${sums(leadFigures)}
          FROM (SELECT * FROM report_lead_days UNION ALL SELECT * FROM report_lead_deltas) x
         WHERE agency_id IN (${agencies})
         GROUP BY 1, 2, 3, 4
      ), buyer_base AS (
        SELECT f.agency_id, f.day, f.buyer_id::text AS grp, '' AS sub, ${sums(buyerFigures)}
          FROM (${agencies}) ag CROSS JOIN LATERAL report_buyer_facts_of_agency(ag.id) f
         GROUP BY 1, 2, 3
      ), buyer_rolled AS (
        SELECT agency_id, day, buyer_id::text AS grp, '' AS sub, ${sums(buyerFigures)}
          FROM (SELECT * FROM report_buyer_days UNION ALL SELECT * FROM report_buyer_deltas) x
         WHERE agency_id IN (${agencies})
         GROUP BY 1, 2, 3
      )
      SELECT 'campaign and source' AS kind, coalesce(b.agency_id, r.agency_id) AS agency_id, coalesce(b.day, r.day)::text AS day,
             coalesce(b.grp, r.grp) AS grp, coalesce(b.sub, r.sub) AS sub,
             ${figures(leadFigures, 'b')} AS base, ${figures(leadFigures, 'r')} AS rolled
        FROM base b FULL JOIN rolled r ON r.agency_id = b.agency_id AND r.day = b.day AND r.grp = b.grp AND r.sub = b.sub
       WHERE ${differ(leadFigures)}
      UNION ALL
      SELECT 'buyer', coalesce(b.agency_id, r.agency_id), coalesce(b.day, r.day)::text, coalesce(b.grp, r.grp), '',
             ${figures(buyerFigures, 'b')}, ${figures(buyerFigures, 'r')}
        FROM buyer_base b FULL JOIN buyer_rolled r ON r.agency_id = b.agency_id AND r.day = b.day AND r.grp = b.grp
       WHERE ${differ(buyerFigures)}
       ORDER BY 2, 3, 4`,
    (r) => ({
      message: `agency ${str(r.agency_id)} ${str(r.day)} ${str(r.kind)} ${str(r.grp)}${r.sub ? ` / ${str(r.sub)}` : ''}: ${disagreement(r.rolled, r.base)}`,
      ids: { agencyId: str(r.agency_id) },
    }),
  );

  return checks;
}

/** The leads the workflow check compares with Temporal's visibility store (one agency's, or all). */
export async function auditedLeads(
  db: DbOrTx,
  agencyId: string | null,
): Promise<{ id: string; workflow_id: string; status: string; created_at: Date | string }[]> {
  return rows(
    db,
    sql`SELECT l.id, l.workflow_id, l.status, l.created_at FROM leads l WHERE true ${agencyId ? sql`AND l.agency_id = ${agencyId}::uuid` : sql``}`,
  );
}
