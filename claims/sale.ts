/**
 * Selling: a claim (ping post) or a highest-bid winner, a push assignment, or
 * an admin's direct sale. All three end in the same post-and-charge
 * transaction (db/sales.ts), which also records the dashboard delivery and
 * closes the offer when its last place is sold. A won answer carries the
 * buyer's delivery plan, so the workflow schedules the channels without
 * another round trip. These are activities (the lifecycle runs them); the
 * desks in this folder call `postAndCharge`.
 */
import { type DeliveryPlan, deliveryPlanFor } from '../activities/delivery';
import type { ActivityDeps } from '../activities/deps';
import { publishClosed } from '../activities/offers';
import {
  releaseBid,
  reserveBid,
  type SaleResult,
  sellAcceptedPost,
  sellByPush,
  sellManually,
  sellOffer,
} from '../db/sales';
import type { AuditBy } from '../domain/audit';
import type { PushStrategy } from '../domain/types';
import { type ClaimChannel, type SaleKind, type SoldClaim, soldClaim } from './vocabulary';

/**
 * A sale as the workflow sees it (a local activity's result, kept in its history): a won one is its ids and amounts
 * with the buyer's delivery plan, not the lead's fields (the API reads those for the winner). Results recorded
 * before small histories also carry `lead`, `leadId` and `buyerId`; the workflow reads none of them.
 */
export type SaleOutcome =
  | Exclude<SaleResult, { result: 'won' }>
  | (SoldClaim & {
      delivery: DeliveryPlan;
      /** This sale filled the offer's last place and closed it. */
      closedOffer: boolean;
    });

export function saleActivities({ db, bus, faults, delivery }: ActivityDeps) {
  /** After the commit: the feeds hear of a closed offer, and the won answer gets its delivery plan. */
  const afterCommit = async (sale: SaleResult, offerId: string, buyerId: string): Promise<SaleOutcome> => {
    if (sale.result !== 'won') return sale;
    if (sale.closed) await publishClosed(bus, sale.closed);
    await faults?.afterSaleCommitted?.({ offerId, buyerId });
    return {
      ...soldClaim(sale),
      delivery: await deliveryPlanFor(db, delivery, buyerId, { id: sale.leadId, consent: sale.lead.consent }),
      closedOffer: !!sale.closed,
    };
  };

  return {
    /**
     * A claim on an open ping-post offer, or the sale to a highest-bid winner at
     * its price. Retrying it after a commit returns the first result, charging nothing more.
     */
    async postAndCharge(input: {
      offerId: string;
      buyerId: string;
      requestId: string;
      price?: number;
      sale?: Extract<SaleKind, 'claim' | 'auction'>;
      channel?: ClaimChannel;
      /** What workflows started before `sale` and `channel` existed send instead of `sale`. */
      via?: Extract<SaleKind, 'claim' | 'auction'>;
    }): Promise<SaleOutcome> {
      const { via, sale: kind, ...request } = input;
      const sale = await sellOffer(db, { ...request, sale: kind ?? via ?? 'claim' });
      return afterCommit(sale, input.offerId, input.buyerId);
    },

    /**
     * Push delivery: sells to the first buyers in the campaign's strategy order
     * whose sale succeeds (up to maxWinners), in one transaction that keeps the
     * rotation (db/sales.ts `sellByPush`); with `close`, it also closes an offer
     * that did not fill.
     */
    async pushAssign(input: {
      offerId: string;
      campaignId: string;
      strategy: PushStrategy;
      maxWinners: number;
      close?: boolean;
    }): Promise<SaleOutcome[]> {
      const sales = await sellByPush(db, input);
      const outcomes: SaleOutcome[] = [];
      // The won sales, and the refusal of a suppressed lead (#23), which the workflow sends to review.
      for (const s of sales) outcomes.push(s.result === 'won' ? await afterCommit(s, input.offerId, s.buyerId) : s);
      return outcomes;
    },

    /**
     * Endpoint buyers (#22): the winning bid held on the wallet before its post (`insufficient_credits` when it
     * cannot be), given back after a rejected or failed post, and the sale of an accepted post – the release, the
     * charge and the assignment in one transaction, which charges nothing without the accepted post in the log.
     */
    async reserveBid(input: { offerId: string; buyerId: string; amount: number }) {
      return reserveBid(db, input);
    },
    async releaseBid(input: { offerId: string; buyerId: string }): Promise<void> {
      await releaseBid(db, input);
    },
    async sellAcceptedPost(input: { offerId: string; buyerId: string; price: number }): Promise<SaleOutcome> {
      const sale = await sellAcceptedPost(db, input);
      return afterCommit(sale, input.offerId, input.buyerId);
    },

    /**
     * An admin sells a lead from manual review to a chosen buyer: a one-buyer
     * "manual" offer at the campaign's price, charged like a claim.
     */
    async assignDirect(input: {
      offerId: string;
      leadId: string;
      buyerId: string;
      workflowId: string;
      at: string;
      /** Who assigns (the audit log and the timeline's `data.actor`). */
      by?: AuditBy;
    }): Promise<SaleOutcome> {
      const sale = await sellManually(db, input);
      return afterCommit(sale, input.offerId, input.buyerId);
    },
  };
}
