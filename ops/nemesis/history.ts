/**
 * The campaign's history, Jepsen style: every operation the load generator invoked and what it was told
 * (ok, fail, or info when the answer never came), and every fault the nemesis injected and healed, with
 * the ids each touched, in ms since the start. The checker reads it to judge what clients were told
 * against the data, and prints the part of it that touches a violation.
 */
export type Ids = Partial<
  Record<'leadId' | 'buyerId' | 'offerId' | 'assignmentId' | 'sourceId' | 'disputeId' | 'paymentId', string>
>;

export interface HistoryEvent {
  /** ms since the campaign started. */
  t: number;
  kind: 'op' | 'fault';
  /** The operation's or fault's name (`claim`, `kill9`, …). */
  name: string;
  /** invoke → ok | fail | info (no final answer) for operations; start → heal for faults. */
  phase: 'invoke' | 'ok' | 'fail' | 'info' | 'start' | 'heal';
  ids: Ids;
  detail?: string;
}

export class History {
  readonly events: HistoryEvent[] = [];

  constructor(private startedAt: number) {}

  /** Starts the clock again at now, with an empty history (when the load starts). */
  reset(): void {
    this.startedAt = Date.now();
    this.events.length = 0;
  }

  now(): number {
    return Date.now() - this.startedAt;
  }

  add(kind: HistoryEvent['kind'], name: string, phase: HistoryEvent['phase'], ids: Ids = {}, detail?: string): void {
    this.events.push({ t: this.now(), kind, name, phase, ids: { ...ids }, ...(detail ? { detail } : {}) });
  }

  /**
   * An operation: `invoke` now; `run` returns what it was told and the ids it learnt; a throw is `info`
   * (the outcome is unknown to the client).
   */
  async op<T extends { phase: 'ok' | 'fail' | 'info'; ids?: Ids; detail?: string }>(
    name: string,
    ids: Ids,
    run: () => Promise<T>,
  ): Promise<T | null> {
    this.add('op', name, 'invoke', ids);
    try {
      const r = await run();
      this.add('op', name, r.phase, { ...ids, ...r.ids }, r.detail);
      return r;
    } catch (err) {
      this.add('op', name, 'info', ids, `threw: ${(err as Error).message.slice(0, 200)}`);
      return null;
    }
  }

  /**
   * The events that touch any of `ids` (after widening them: an offer's lead, an assignment's lead and
   * buyer…, through `related`), and every fault active between the first and last of them (±5 s).
   */
  touching(ids: Ids, related: (ids: Ids) => Ids[] = () => []): HistoryEvent[] {
    const wanted = new Set<string>();
    for (const set of [ids, ...related(ids)]) for (const v of Object.values(set)) if (v) wanted.add(v);
    const hits = this.events.filter(
      (e) => e.kind === 'op' && Object.values(e.ids).some((v) => v !== undefined && wanted.has(v)),
    );
    if (!hits.length) return [];
    const from = hits[0]!.t - 5_000;
    const to = hits[hits.length - 1]!.t + 5_000;
    const faults = this.events.filter((e) => e.kind === 'fault' && e.t >= from && e.t <= to);
    return [...hits, ...faults].sort((a, b) => a.t - b.t);
  }
}

export function formatEvent(e: HistoryEvent): string {
  const ids = Object.entries(e.ids)
    .map(([k, v]) => `${k}=${v!.slice(0, 8)}`)
    .join(' ');
  return `${(e.t / 1000).toFixed(3).padStart(9)}s  ${e.kind === 'fault' ? 'NEMESIS' : 'op     '} ${e.name.padEnd(14)} ${e.phase.padEnd(6)} ${ids}${e.detail ? `  ${e.detail}` : ''}`;
}
