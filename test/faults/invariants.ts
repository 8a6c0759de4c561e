/**
 * The promises to an agency, checked straight in the database after a run,
 * for one agency (the run's own): every query returns the rows that break a
 * promise, so an empty result is a pass and a failure names the culprits.
 *
 * - balances = sum of ledger entries; no negative balance;
 * - one charge per assignment, and no charge without an assignment;
 * - no exclusive lead sold twice; winners within maxWinners (and the offer's
 *   winners counter equals its assignments);
 * - caps (buyer and campaign; day, ISO week, month in the agency's zone) never overrun;
 * - every lead in a final status (sold, manual_review, rejected) that matches
 *   its assignments; every offer past its window closed, with an outcome that
 *   matches its winners;
 * - the timeline has exactly one `won` event per assignment.
 */
import type { Pool } from 'pg';

export const FINAL_STATUSES = ['sold', 'manual_review', 'rejected'] as const;

export interface Violation {
  invariant: string;
  rows: Record<string, unknown>[];
}

interface Check {
  invariant: string;
  sql: string;
}

/** Window past closesAt after which an open offer means a timer did not fire. */
const TIMER_GRACE = "interval '15 seconds'";

const periodOverrun = (
  who: 'buyer' | 'campaign',
  period: 'daily' | 'weekly' | 'monthly',
  unit: 'day' | 'week' | 'month',
) =>
  who === 'buyer'
    ? `SELECT b.id AS buyer_id, '${period}' AS period, (b.caps->>'${period}')::int AS cap, p.bucket, p.n
         FROM buyers b JOIN agencies ag ON ag.id = b.agency_id
         JOIN LATERAL (
           SELECT date_trunc('${unit}', a.created_at AT TIME ZONE ag.time_zone) AS bucket, count(*)::int AS n
             FROM assignments a WHERE a.buyer_id = b.id AND a.status = 'active' GROUP BY 1
         ) p ON true
        WHERE b.agency_id = $1 AND b.caps ? '${period}' AND p.n > (b.caps->>'${period}')::int`
    : `SELECT c.id AS campaign_id, '${period}' AS period, (c.caps->>'${period}')::int AS cap, p.bucket, p.n
         FROM campaigns c JOIN agencies ag ON ag.id = c.agency_id
         JOIN LATERAL (
           SELECT date_trunc('${unit}', a.created_at AT TIME ZONE ag.time_zone) AS bucket, count(*)::int AS n
             FROM assignments a JOIN offers o ON o.id = a.offer_id
            WHERE o.campaign_id = c.id AND a.status = 'active' GROUP BY 1
         ) p ON true
        WHERE c.agency_id = $1 AND c.caps ? '${period}' AND p.n > (c.caps->>'${period}')::int`;

const CHECKS: Check[] = [
  {
    invariant: 'balance = sum of ledger entries',
    sql: `SELECT w.buyer_id, w.balance, COALESCE(SUM(e.amount), 0)::int AS entries
            FROM wallets w LEFT JOIN ledger_entries e ON e.buyer_id = w.buyer_id
           WHERE w.agency_id = $1
           GROUP BY w.buyer_id, w.balance
          HAVING w.balance <> COALESCE(SUM(e.amount), 0)
              OR (w.balance < 0 AND NOT COALESCE(bool_or(e.kind IN ('card_refund','dispute')), false))`,
  },
  {
    invariant: 'every assignment has its own charge (right buyer, offer and amount)',
    sql: `SELECT a.id AS assignment_id, a.buyer_id, a.offer_id, a.price, e.id AS entry_id, e.kind, e.amount, e.buyer_id AS entry_buyer, e.offer_id AS entry_offer
            FROM assignments a LEFT JOIN ledger_entries e ON e.id = a.charge_entry_id
           WHERE a.agency_id = $1
             AND (e.id IS NULL OR e.kind <> 'charge' OR e.amount <> -a.price OR e.buyer_id <> a.buyer_id OR e.offer_id IS DISTINCT FROM a.offer_id)`,
  },
  {
    invariant: 'no charge without an assignment (no phantom charge)',
    sql: `SELECT e.id AS entry_id, e.buyer_id, e.offer_id, e.amount
            FROM ledger_entries e
           WHERE e.agency_id = $1 AND e.kind = 'charge'
             AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.charge_entry_id = e.id)`,
  },
  {
    invariant: 'one charge per offer and buyer',
    sql: `SELECT offer_id, buyer_id, count(*)::int AS charges
            FROM ledger_entries WHERE agency_id = $1 AND kind = 'charge'
           GROUP BY offer_id, buyer_id HAVING count(*) > 1`,
  },
  {
    invariant: 'no exclusive lead sold twice',
    sql: `SELECT lead_id, count(*)::int AS assignments
            FROM assignments WHERE agency_id = $1
           GROUP BY lead_id HAVING bool_or(exclusive) AND count(*) > 1`,
  },
  {
    invariant: 'winners <= maxWinners (and the winners counter matches)',
    sql: `SELECT o.id AS offer_id, o.max_winners, o.winners, count(a.id)::int AS assignments
            FROM offers o LEFT JOIN assignments a ON a.offer_id = o.id
           WHERE o.agency_id = $1
           GROUP BY o.id HAVING count(a.id) > o.max_winners OR count(a.id) <> o.winners`,
  },
  { invariant: 'buyer daily cap never overrun', sql: periodOverrun('buyer', 'daily', 'day') },
  { invariant: 'buyer weekly cap never overrun', sql: periodOverrun('buyer', 'weekly', 'week') },
  { invariant: 'buyer monthly cap never overrun', sql: periodOverrun('buyer', 'monthly', 'month') },
  { invariant: 'campaign daily cap never overrun', sql: periodOverrun('campaign', 'daily', 'day') },
  { invariant: 'campaign weekly cap never overrun', sql: periodOverrun('campaign', 'weekly', 'week') },
  { invariant: 'campaign monthly cap never overrun', sql: periodOverrun('campaign', 'monthly', 'month') },
  {
    invariant: 'every lead in a final status',
    sql: `SELECT id AS lead_id, status, status_reason FROM leads
           WHERE agency_id = $1 AND status NOT IN (${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`,
  },
  {
    // A returned sale (refunded) still counts: a return without a re-offer leaves the lead sold.
    invariant: 'a lead is sold exactly when it has an assignment',
    sql: `SELECT l.id AS lead_id, l.status, count(a.id)::int AS assignments
            FROM leads l LEFT JOIN assignments a ON a.lead_id = l.id
           WHERE l.agency_id = $1 AND l.status IN (${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')})
           GROUP BY l.id, l.status HAVING (l.status = 'sold') <> (count(a.id) > 0)`,
  },
  {
    invariant: 'timers fired: no offer open past its window',
    sql: `SELECT id AS offer_id, lead_id, kind, status, closes_at FROM offers
           WHERE agency_id = $1 AND status = 'open' AND closes_at < now() - ${TIMER_GRACE}`,
  },
  {
    invariant: "an offer's outcome matches its winners",
    sql: `SELECT id AS offer_id, status, winners FROM offers
           WHERE agency_id = $1 AND ((status = 'won' AND winners = 0) OR (status IN ('expired', 'cancelled') AND winners > 0))`,
  },
  {
    invariant: 'exactly one won event per assignment, none without one',
    sql: `SELECT COALESCE(a.offer_id, ev.offer_id) AS offer_id, COALESCE(a.buyer_id, ev.buyer_id) AS buyer_id, COALESCE(ev.n, 0)::int AS won_events, (a.id IS NOT NULL) AS assigned
            FROM (SELECT id, offer_id, buyer_id FROM assignments WHERE agency_id = $1) a
            FULL JOIN (
              SELECT e.offer_id, e.buyer_id, count(*) AS n FROM offer_events e JOIN leads l ON l.id = e.lead_id
               WHERE l.agency_id = $1 AND e.type = 'won' GROUP BY e.offer_id, e.buyer_id
            ) ev ON ev.offer_id = a.offer_id AND ev.buyer_id = a.buyer_id
           WHERE a.id IS NULL OR COALESCE(ev.n, 0) <> 1`,
  },
];

/** Every broken promise for the agency; empty when all hold. */
export async function checkInvariants(pool: Pool, agencyId: string): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const check of CHECKS) {
    const { rows } = await pool.query(check.sql, [agencyId]);
    if (rows.length) violations.push({ invariant: check.invariant, rows: rows.slice(0, 10) });
  }
  return violations;
}

export const INVARIANTS = CHECKS.map((c) => c.invariant);

/** The counts a run reports: leads by status, offers by status, sales, money. */
export async function agencyCounts(pool: Pool, agencyId: string) {
  const one = async (q: string) => (await pool.query(q, [agencyId])).rows;
  const byStatus = (rows: { status: string; n: number }[]) =>
    Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  const [leads, offers, [sales], [money]] = await Promise.all([
    one('SELECT status, count(*)::int AS n FROM leads WHERE agency_id = $1 GROUP BY status'),
    one('SELECT status, count(*)::int AS n FROM offers WHERE agency_id = $1 GROUP BY status'),
    one(
      "SELECT count(*)::int AS assignments, count(*) FILTER (WHERE o.kind = 'ping_post')::int AS claimed, count(*) FILTER (WHERE o.kind = 'push')::int AS pushed FROM assignments a JOIN offers o ON o.id = a.offer_id WHERE a.agency_id = $1",
    ),
    one(
      "SELECT COALESCE(-SUM(amount) FILTER (WHERE kind = 'charge'), 0)::int AS charged FROM ledger_entries WHERE agency_id = $1",
    ),
  ]);
  return {
    leads: byStatus(leads as { status: string; n: number }[]),
    offers: byStatus(offers as { status: string; n: number }[]),
    assignments: Number(sales?.assignments ?? 0),
    claimed: Number(sales?.claimed ?? 0),
    pushed: Number(sales?.pushed ?? 0),
    charged: Number(money?.charged ?? 0),
  };
}
