/**
 * Selling: a claim (ping post), a push assignment, or an admin's direct sale.
 * All three end in the same post-and-charge transaction (db/sales.ts), which
 * also records the dashboard delivery and closes the offer when its last place
 * is sold. A won answer carries the buyer's delivery plan, so the workflow
 * schedules the channels without another round trip.
 */
import { and, eq } from 'drizzle-orm';
import { closeOfferWithin, appendEvents } from '../db/offers';
import { sellOffer, sellWithin, type SaleResult } from '../db/sales';
import type { ClaimChannel, SaleKind } from '../domain/claims';
import { campaignBuyers, leads, offers, offerTargets, pushRotation } from '../db/schema';
import { priceLead } from '../domain/pricing';
import { orderPushCandidates } from '../domain/push';
import type { PushStrategy } from '../domain/types';
import { campaigns } from '../db/schema';
import { deliveryPlanFor, type DeliveryPlan } from './delivery';
import type { ActivityDeps } from './deps';
import { publishClosed } from './offers';

/** A sale as the workflow sees it: a won one with the buyer's delivery plan. */
export type SaleOutcome =
  | Exclude<SaleResult, { result: 'won' }>
  | (Omit<Extract<SaleResult, { result: 'won' }>, 'closed'> & {
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
    const { closed: _published, ...won } = sale;
    return { ...won, delivery: await deliveryPlanFor(db, delivery, buyerId), closedOffer: !!sale.closed };
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
     * Push delivery: picks buyers in the campaign's strategy order and sells to
     * the first ones whose sale succeeds (up to maxWinners). The rotation row is
     * locked for the whole transaction, so concurrent leads of one campaign
     * take turns in order and a restart loses no turn. With `close`, the same
     * transaction closes an offer that did not fill (sold to fewer buyers, or
     * to none: `expired` with `no_buyer_could_take_it`).
     */
    async pushAssign(input: {
      offerId: string;
      campaignId: string;
      strategy: PushStrategy;
      maxWinners: number;
      close?: boolean;
    }): Promise<SaleOutcome[]> {
      const sales = await db.transaction(async (tx) => {
        await tx.insert(pushRotation).values({ campaignId: input.campaignId }).onConflictDoNothing();
        const [rotation] = await tx
          .select()
          .from(pushRotation)
          .where(eq(pushRotation.campaignId, input.campaignId))
          .for('update');
        const targets = await tx
          .select({ buyerId: offerTargets.buyerId, priority: campaignBuyers.priority, weight: campaignBuyers.weight })
          .from(offerTargets)
          .leftJoin(
            campaignBuyers,
            and(eq(campaignBuyers.buyerId, offerTargets.buyerId), eq(campaignBuyers.campaignId, input.campaignId)),
          )
          .where(and(eq(offerTargets.offerId, input.offerId), eq(offerTargets.eligible, true)));
        const order = orderPushCandidates(
          input.strategy,
          targets.map((t) => ({ buyerId: t.buyerId, priority: t.priority ?? 0, weight: t.weight ?? 1 })),
          rotation?.lastBuyerId ?? null,
          Math.random,
        );
        const won: SaleResult[] = [];
        for (const buyerId of order) {
          if (won.length >= input.maxWinners) break;
          const sale = await sellWithin(tx, { offerId: input.offerId, buyerId, sale: 'push' });
          if (sale.result === 'won') won.push(sale);
        }
        const last = won.at(-1);
        if (last && last.result === 'won') {
          await tx
            .update(pushRotation)
            .set({ lastBuyerId: last.buyerId, updatedAt: new Date() })
            .where(eq(pushRotation.campaignId, input.campaignId));
        }
        if (input.close) {
          const outcome = won.length ? 'won' : 'expired';
          // A push offer is never on the feed: nothing to publish.
          await closeOfferWithin(tx, input.offerId, {
            outcome,
            reason: won.length ? null : 'no_buyer_could_take_it',
            at: new Date(),
          });
        }
        return won;
      });
      const outcomes: SaleOutcome[] = [];
      for (const s of sales) if (s.result === 'won') outcomes.push(await afterCommit(s, input.offerId, s.buyerId));
      return outcomes;
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
    }): Promise<SaleOutcome> {
      const sale = await db.transaction(async (tx) => {
        const [existing] = await tx.select().from(offers).where(eq(offers.id, input.offerId));
        if (!existing) {
          const [lead] = await tx.select().from(leads).where(eq(leads.id, input.leadId));
          if (!lead) throw new Error(`lead ${input.leadId} not found`);
          const [campaign] = await tx.select().from(campaigns).where(eq(campaigns.id, lead.campaignId));
          const price = campaign ? priceLead(campaign.price, lead.fields, campaign.serviceLine) : 0;
          await tx.insert(offers).values({
            id: input.offerId,
            leadId: lead.id,
            agencyId: lead.agencyId,
            campaignId: lead.campaignId,
            kind: 'manual',
            workflowId: input.workflowId,
            price,
            preview: {},
            maxWinners: 1,
            status: 'open',
            openedAt: new Date(input.at),
            closesAt: new Date(input.at),
          });
          await tx
            .insert(offerTargets)
            .values({ offerId: input.offerId, buyerId: input.buyerId, eligible: true, snapshot: { manual: true } });
          await appendEvents(tx, [
            {
              leadId: lead.id,
              offerId: input.offerId,
              type: 'assigned',
              buyerId: input.buyerId,
              data: { price },
              at: input.at,
            },
          ]);
        }
        const result = await sellWithin(tx, { offerId: input.offerId, buyerId: input.buyerId, sale: 'manual' });
        await tx
          .update(offers)
          .set(
            result.result === 'won'
              ? { status: 'won', closedAt: new Date(input.at) }
              : { status: 'cancelled', closedAt: new Date(input.at), closeReason: result.reason },
          )
          .where(and(eq(offers.id, input.offerId), eq(offers.status, 'open')));
        return result;
      });
      return afterCommit(sale, input.offerId, input.buyerId);
    },
  };
}
