import type { PushStrategy } from './types';

export interface PushCandidate {
  buyerId: string;
  priority: number;
  weight: number;
}

/** Code-unit order, not localeCompare: the order must not depend on the host's locale (workflow replay). */
const byId = (a: { buyerId: string }, b: { buyerId: string }): number =>
  a.buyerId < b.buyerId ? -1 : a.buyerId > b.buyerId ? 1 : 0;

/**
 * Sorted by id and rotated to start just after the last buyer served. Keying
 * the rotation on the id (not a stored index) keeps it fair when buyers join,
 * leave or are excluded for one lead: the next in id order is next in line.
 */
function roundRobin(candidates: PushCandidate[], lastBuyerId: string | null): string[] {
  const ids = [...candidates].sort(byId).map((c) => c.buyerId);
  if (lastBuyerId === null || lastBuyerId === undefined) return ids;
  const start = ids.findIndex((id) => id > lastBuyerId);
  return start <= 0 ? ids : [...ids.slice(start), ...ids.slice(0, start)];
}

/** Highest priority first; equal priorities take turns so they share the leads. */
function byPriority(candidates: PushCandidate[], lastBuyerId: string | null): string[] {
  const groups = new Map<number, PushCandidate[]>();
  for (const c of candidates) {
    const p = Number.isFinite(c.priority) ? c.priority : -Infinity;
    groups.set(p, [...(groups.get(p) ?? []), c]);
  }
  return [...groups.keys()].sort((a, b) => b - a).flatMap((p) => roundRobin(groups.get(p)!, lastBuyerId));
}

/**
 * A weighted random permutation: each position is drawn with probability
 * weight / sum of the remaining weights, so the first pick (who usually gets the
 * lead) is proportional to weight, and the fallbacks stay proportional too.
 * Candidates are sorted first so the same random draws give the same order
 * whatever the input order. Weights <= 0 (or not finite) never win a draw; they
 * are only tried last, in id order.
 */
function weighted(candidates: PushCandidate[], random: () => number): string[] {
  const sorted = [...candidates].sort(byId);
  const usable = (w: number): boolean => Number.isFinite(w) && w > 0;
  const pool = sorted.filter((c) => usable(c.weight));
  const rest = sorted.filter((c) => !usable(c.weight));
  const order: string[] = [];
  let total = pool.reduce((s, c) => s + c.weight, 0);
  while (pool.length > 0) {
    const r = random() * total;
    let i = 0;
    let acc = pool[0].weight;
    while (i < pool.length - 1 && r >= acc) acc += pool[++i].weight; // the last one absorbs float drift
    const [picked] = pool.splice(i, 1);
    order.push(picked.buyerId);
    total -= picked.weight;
  }
  return [...order, ...rest.map((c) => c.buyerId)];
}

/** Keep the first candidate per buyer: a buyer tried twice would only fail twice. */
function unique(candidates: PushCandidate[]): PushCandidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => !seen.has(c.buyerId) && (seen.add(c.buyerId), true));
}

/**
 * The order in which to try buyers for a push lead; the first whose charge
 * succeeds gets it. `random` returns [0, 1) and is a parameter so workflows can
 * pass their deterministic PRNG and tests a seeded one.
 */
export function orderPushCandidates(
  strategy: PushStrategy,
  candidates: PushCandidate[],
  lastBuyerId: string | null,
  random: () => number,
): string[] {
  const list = unique(candidates);
  switch (strategy) {
    case 'round_robin':
      return roundRobin(list, lastBuyerId);
    case 'priority':
      return byPriority(list, lastBuyerId);
    case 'weighted':
      return weighted(list, random);
    default:
      throw new RangeError(`unknown push strategy: ${String(strategy)}`);
  }
}
