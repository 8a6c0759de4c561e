-- The auction with buyers' own systems (#22): a campaign's ping tree (ordered
-- tiers of endpoint buyers, each with a floor), and the reserve that holds a
-- winning bid on the buyer's wallet while its post is out.
--
-- A `reserve` (negative, keyed `offer:<offer>:buyer:<buyer>:reserve`) takes
-- the bid off the wallet before the post, under the wallet's overdraft rule,
-- so an accepted post can always be paid; a `release` (positive, the same key
-- ending `:release`) gives back exactly what its reserve took, at most once –
-- the trigger refuses a release without its reserve or of another amount, so
-- a release can never mint credits.
ALTER TABLE "campaigns" ADD COLUMN "ping_tree" jsonb;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_ping_tree_set" CHECK ("auction" <> 'ping_tree' OR "ping_tree" IS NOT NULL);--> statement-breakpoint
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_amount_sign";--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_amount_sign" CHECK (
  ("kind" IN ('charge','card_refund','dispute','reserve') AND "amount" < 0)
  OR ("kind" IN ('top_up','refund','dispute_reversal','card_refund_reversal','release') AND "amount" > 0)
  OR "kind" = 'adjustment');--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_release_matches_reserve() RETURNS trigger AS $$
BEGIN
  IF NEW.kind = 'reserve' AND right(NEW.idempotency_key, 8) <> ':reserve' THEN
    RAISE EXCEPTION 'a reserve is keyed <sale>:reserve' USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_reserve_release';
  END IF;
  IF NEW.kind = 'release' AND (right(NEW.idempotency_key, 8) <> ':release' OR NOT EXISTS (
      SELECT 1 FROM ledger_entries r
       WHERE r.idempotency_key = left(NEW.idempotency_key, -8) || ':reserve'
         AND r.kind = 'reserve' AND r.buyer_id = NEW.buyer_id AND r.amount = -NEW.amount)) THEN
    RAISE EXCEPTION 'a release gives back exactly its reserve' USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_reserve_release';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;--> statement-breakpoint
CREATE TRIGGER ledger_release_matches_reserve BEFORE INSERT ON ledger_entries
  FOR EACH ROW WHEN (NEW.kind IN ('reserve', 'release')) EXECUTE FUNCTION ledger_release_matches_reserve();
