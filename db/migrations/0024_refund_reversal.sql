-- A card refund that Stripe reports failed after it had succeeded (#21 item 4):
-- the money came back to the agency, so the credits its `card_refund` took go
-- back to the buyer, as a `card_refund_reversal` entry (positive, once per
-- refund under `stripe:refund_failed:<refund id>`).
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_amount_sign";--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_amount_sign" CHECK (
  ("kind" IN ('charge','card_refund','dispute') AND "amount" < 0)
  OR ("kind" IN ('top_up','refund','dispute_reversal','card_refund_reversal') AND "amount" > 0)
  OR "kind" = 'adjustment');
