/**
 * Per-buyer campaign prices (#12): an agency gives one buyer its own price on
 * a campaign, fixed or a percentage on the campaign's price. The eligibility
 * loader (db/eligibility.ts) reads them to price each target of an offer; the
 * sale charges the target's price.
 */
import { and, eq } from 'drizzle-orm';
import type { BuyerPriceRule } from '../domain/buyer-side';
import type { DbOrTx } from './connection';
import { campaignBuyerPrices } from './schema';

export type BuyerPriceRow = typeof campaignBuyerPrices.$inferSelect;

export async function listBuyerPrices(db: DbOrTx, campaignId: string): Promise<BuyerPriceRow[]> {
  return db
    .select()
    .from(campaignBuyerPrices)
    .where(eq(campaignBuyerPrices.campaignId, campaignId))
    .orderBy(campaignBuyerPrices.buyerId);
}

/** Sets (or, with null, removes) one buyer's rule on one campaign. */
export async function setBuyerPrice(
  db: DbOrTx,
  campaignId: string,
  buyerId: string,
  rule: BuyerPriceRule | null,
): Promise<void> {
  if (!rule) {
    await db
      .delete(campaignBuyerPrices)
      .where(and(eq(campaignBuyerPrices.campaignId, campaignId), eq(campaignBuyerPrices.buyerId, buyerId)));
    return;
  }
  await db
    .insert(campaignBuyerPrices)
    .values({ campaignId, buyerId, kind: rule.kind, value: rule.value })
    .onConflictDoUpdate({
      target: [campaignBuyerPrices.campaignId, campaignBuyerPrices.buyerId],
      set: { kind: rule.kind, value: rule.value, updatedAt: new Date() },
    });
}
