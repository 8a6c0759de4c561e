-- Auto-recharge (#21): a failed off-session recharge (a decline, a bank asking
-- for authentication) alerts the buyer on its alert channels through the same
-- outbox as low-balance alerts.
ALTER TABLE "buyer_alerts" DROP CONSTRAINT "buyer_alerts_kind";--> statement-breakpoint
ALTER TABLE "buyer_alerts" ADD CONSTRAINT "buyer_alerts_kind" CHECK ("buyer_alerts"."kind" IN ('offer_opened','low_balance','recharge_failed'));
--> statement-breakpoint
-- The last failed recharge payment counted in recharge_failures: a retried
-- activity counts one failed payment once.
ALTER TABLE "buyer_billing" ADD COLUMN "recharge_failed_payment_id" uuid;
