/**
 * The claim desk of one open ping-post offer: where claims are decided.
 *
 * Claims arrive as Updates and are served one at a time (a mutex), so "first
 * valid claim wins" holds however many buyers click at once. A claim that can
 * be refused without touching money (the offer is full or closed) is answered
 * at once and its timeline events are queued for the workflow to write; a
 * claim that could win goes through the post-and-charge activity.
 */
import { proxyActivities } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';

import type { LeadActivities } from '../../activities';
import type { TimelineEventInput } from '../../claims/vocabulary';
import { claimOutcomeOf } from '../../claims/vocabulary';
import type { ClaimFailureReason } from '../../domain/types';
import type { ClaimRequest, ClaimResult } from '../messages';
import { SALE_ACTIVITY_OPTIONS } from '../options';

const { postAndCharge } = proxyActivities<LeadActivities>(SALE_ACTIVITY_OPTIONS);

export interface DeskOffer {
  offerId: string;
  leadId: string;
  maxWinners: number;
  closesAtMs: number;
}

export class ClaimDesk {
  readonly winners = new Map<string, ClaimResult & { result: 'won' }>();
  private open = true;
  private cancelled: string | null = null;
  private readonly mutex = new Mutex();

  constructor(
    readonly offer: DeskOffer,
    private readonly queueEvents: (events: TimelineEventInput[]) => void,
  ) {}

  get full(): boolean {
    return this.winners.size >= this.offer.maxWinners;
  }

  get cancelReason(): string | null {
    return this.cancelled;
  }

  async claim(req: ClaimRequest): Promise<ClaimResult> {
    return this.mutex.runExclusive(async () => {
      const prior = this.winners.get(req.buyerId);
      if (prior) return prior; // the winner asking again gets the same answer, charged once
      if (this.full) return this.refuse(req, 'lost_race');
      if (!this.open || Date.now() >= this.offer.closesAtMs) return this.refuse(req, 'offer_closed');
      const sale = await postAndCharge({ offerId: this.offer.offerId, buyerId: req.buyerId, requestId: req.requestId });
      if (sale.result !== 'won') return { result: sale.result, reason: sale.reason };
      const won = {
        result: 'won' as const,
        offerId: sale.offerId,
        assignmentId: sale.assignmentId,
        lead: sale.lead,
        charged: sale.charged,
        balance: sale.balance,
      };
      this.winners.set(req.buyerId, won);
      return won;
    });
  }

  cancel(reason: string): void {
    this.cancelled ??= reason;
  }

  /** Stops taking claims; waits for a sale in progress to finish first. */
  async close(): Promise<void> {
    await this.mutex.runExclusive(() => {
      this.open = false;
    });
  }

  private refuse(req: ClaimRequest, reason: ClaimFailureReason): ClaimResult {
    const at = new Date(Date.now()).toISOString();
    const base = { leadId: this.offer.leadId, offerId: this.offer.offerId, buyerId: req.buyerId, at };
    this.queueEvents([
      { ...base, type: 'claim_attempted', data: { via: 'claim', requestId: req.requestId } },
      { ...base, type: 'claim_failed', reason },
    ]);
    return { result: claimOutcomeOf(reason).result, reason };
  }
}
