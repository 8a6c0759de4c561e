/**
 * The claim desk of one open first-claim offer: where claims are decided.
 *
 * - `validate` is the claim Update's validator: what the desk already knows
 *   cannot win (a buyer the offer does not target, every place sold, the
 *   window over or the offer cancelled) is refused before it reaches the
 *   workflow's history, and the caller records the attempt.
 * - `claim` serves the rest one at a time (a mutex), so "first valid claim
 *   wins" holds however many buyers click at once. A claim that could win runs
 *   the post-and-charge local activity inside the same workflow task; the sale
 *   closes the offer itself when it fills the last place. A claim that waited
 *   behind the winning sale is answered `lost_race` as soon as the sale
 *   committed.
 *
 * Both ask the vocabulary's `decided`, the relay's question too. Workflow code
 * (the workflow lint rules hold it): it runs inside the lead's workflow.
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';

import type { LeadActivities } from '../activities';
import type { DeliveryPlan } from '../activities/delivery';
import { SUPPRESSED } from '../domain/types';
import { CLAIM_ARRIVAL_PATCH, CLAIM_REFUSED, type ClaimRequest, type ClaimResult, SUPPRESSION_PATCH } from './messages';
import { claimOutcomeOf, decided, type SoldClaim, soldClaim } from './vocabulary';

export interface DeskOffer {
  offerId: string;
  leadId: string;
  maxWinners: number;
  closesAtMs: number;
  /** The buyers the offer targets; null when there were too many to keep in history (the sale checks alone). */
  targets: ReadonlySet<string> | null;
}

export class ClaimDesk {
  /** Winners by buyer id: their answer (no lead fields) and the delivery plan their sale returned. */
  readonly winners = new Map<string, { won: SoldClaim; delivery: DeliveryPlan }>();
  private closed = false;
  private cancelled: string | null = null;
  private readonly mutex = new Mutex();

  constructor(
    readonly offer: DeskOffer,
    private readonly io: Pick<LeadActivities, 'postAndCharge'>,
  ) {}

  get full(): boolean {
    return this.winners.size >= this.offer.maxWinners;
  }

  get cancelReason(): string | null {
    return this.cancelled;
  }

  /** The Update validator: throws (no history event) when the claim cannot win. A winner asking again passes. */
  validate(req: ClaimRequest): void {
    const known = this.decided(req.buyerId);
    if (known && 'refused' in known) {
      const reason = known.refused;
      throw ApplicationFailure.create({
        type: CLAIM_REFUSED,
        message: `claim refused: ${reason}`,
        details: [reason],
        nonRetryable: true,
      });
    }
  }

  /**
   * Decides a claim, one at a time. `arrivedAtMs` is when the claim's Update reached the workflow: a claim that arrived
   * inside the window and waited (for the offer's opening to finish, or behind another buyer's sale) is still judged
   * inside it.
   */
  async claim(req: ClaimRequest, arrivedAtMs?: number): Promise<ClaimResult> {
    return this.mutex.runExclusive(async (): Promise<ClaimResult> => {
      const known = this.decided(req.buyerId, arrivedAtMs);
      if (known && 'won' in known) return known.won; // the winner asking again gets the same answer, charged once
      if (known) return { result: claimOutcomeOf(known.refused).result, reason: known.refused, recorded: false };
      const sale = await this.io.postAndCharge({
        offerId: this.offer.offerId,
        buyerId: req.buyerId,
        requestId: req.requestId,
        ...(req.channel ? { channel: req.channel } : {}),
      });
      if (sale.result !== 'won') {
        // The person is suppressed (#23): no buyer may have the lead; the workflow closes the offer and sends it to review.
        if (sale.reason === SUPPRESSED && patched(SUPPRESSION_PATCH)) this.cancel(SUPPRESSED);
        return { result: sale.result, reason: sale.reason, recorded: true };
      }
      const won = soldClaim(sale);
      this.winners.set(req.buyerId, { won, delivery: sale.delivery });
      return won;
    });
  }

  cancel(reason: string): void {
    this.cancelled ??= reason;
  }

  /** Stops taking claims; waits for a sale in progress to finish first. */
  async close(): Promise<void> {
    await this.mutex.runExclusive(() => {
      this.closed = true;
    });
  }

  /**
   * Whether this buyer's claim is decided by the desk's own record: its earlier win, or why it cannot win now (sold
   * out is `lost_race`, someone else won, whatever the clock says); null while it may win.
   */
  private decided(buyerId: string, arrivedAtMs?: number) {
    return decided({
      prior: this.winners.get(buyerId)?.won,
      targeted: !this.offer.targets || this.offer.targets.has(buyerId),
      winners: this.winners.size,
      maxWinners: this.offer.maxWinners,
      open: !this.closed && this.cancelled === null && this.inWindow(arrivedAtMs),
    });
  }

  /** Inside the claim window now, or (a claim that waited past its end) when it arrived. */
  private inWindow(arrivedAtMs: number | undefined): boolean {
    if (Date.now() < this.offer.closesAtMs) return true;
    return arrivedAtMs !== undefined && arrivedAtMs < this.offer.closesAtMs && patched(CLAIM_ARRIVAL_PATCH);
  }
}
