-- Buyers pay for their own credits through the agency's Stripe account (#21).
--
-- The money rule stays the database's: credits move only as ledger entries.
-- A card payment credits once (its ledger key is `stripe:<payment intent id>`,
-- the same key for the webhook of either event and for the reconciliation job);
-- a Stripe refund or dispute debits once (`stripe:<refund id>`,
-- `stripe:<dispute id>`). Money that has left through Stripe is a fact: those
-- two debits may take a wallet below zero (the buyer is then paused until the
-- agency resolves it); nothing else may.

-- The agency's Stripe account: secrets sealed by the key store (purposes
-- `stripe.secret_key`, `stripe.webhook_secret`, context the agency id), never
-- returned. A payment's amount is always credits × credit_price (minor units).
CREATE TABLE "agency_payment_settings" (
	"agency_id" uuid PRIMARY KEY NOT NULL REFERENCES "agencies"("id"),
	"stripe_secret_key_sealed" text NOT NULL,
	"stripe_webhook_secret_sealed" text NOT NULL,
	"stripe_account_id" text,
	"currency" text NOT NULL,
	"credit_price" integer NOT NULL,
	"min_credits" integer DEFAULT 10 NOT NULL,
	"max_credits" integer DEFAULT 10000 NOT NULL,
	"recharge_max_failures" integer DEFAULT 3 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_settings_secret_sealed" CHECK ("stripe_secret_key_sealed" LIKE 'lwk1.%' AND "stripe_webhook_secret_sealed" LIKE 'lwk1.%'),
	CONSTRAINT "payment_settings_currency" CHECK ("currency" ~ '^[a-z]{3}$'),
	CONSTRAINT "payment_settings_credit_price" CHECK ("credit_price" > 0),
	CONSTRAINT "payment_settings_bounds" CHECK ("min_credits" > 0 AND "max_credits" >= "min_credits"),
	CONSTRAINT "payment_settings_recharge_failures" CHECK ("recharge_max_failures" BETWEEN 1 AND 20)
);
--> statement-breakpoint
-- One card payment: a Checkout top-up or an auto-recharge. `pending` until
-- Stripe says it succeeded (the webhook, or reconciliation) or failed.
CREATE TABLE "payments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"buyer_id" uuid NOT NULL REFERENCES "buyers"("id"),
	"kind" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"credits" integer NOT NULL,
	"credit_price" integer NOT NULL,
	"amount" integer NOT NULL,
	"currency" text NOT NULL,
	"stripe_checkout_session_id" text,
	"stripe_payment_intent_id" text,
	"stripe_charge_id" text,
	"stripe_idempotency_key" text,
	"card_brand" text,
	"card_last4" text,
	"receipt_url" text,
	"failure_code" text,
	"failure_message" text,
	"refunded_credits" integer DEFAULT 0 NOT NULL,
	"disputed_credits" integer DEFAULT 0 NOT NULL,
	"created_by_user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"succeeded_at" timestamp with time zone,
	CONSTRAINT "payments_kind" CHECK ("kind" IN ('checkout','auto_recharge','reconciled')),
	CONSTRAINT "payments_status" CHECK ("status" IN ('pending','succeeded','failed','canceled')),
	CONSTRAINT "payments_amount" CHECK ("credits" > 0 AND "credit_price" > 0 AND "amount" = "credits" * "credit_price"),
	CONSTRAINT "payments_refunded" CHECK ("refunded_credits" >= 0 AND "disputed_credits" >= 0 AND "refunded_credits" + "disputed_credits" <= "credits"),
	CONSTRAINT "payments_succeeded_at" CHECK (("status" = 'succeeded') = ("succeeded_at" IS NOT NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "payments_checkout_session_uq" ON "payments" ("stripe_checkout_session_id") WHERE "stripe_checkout_session_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "payments_payment_intent_uq" ON "payments" ("stripe_payment_intent_id") WHERE "stripe_payment_intent_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "payments_idempotency_uq" ON "payments" ("stripe_idempotency_key") WHERE "stripe_idempotency_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "payments_buyer_idx" ON "payments" ("buyer_id", "created_at");--> statement-breakpoint
CREATE INDEX "payments_agency_idx" ON "payments" ("agency_id", "created_at");--> statement-breakpoint
-- A refund of (part of) a payment: asked of Stripe first, the ledger debit on its webhook.
CREATE TABLE "payment_refunds" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"payment_id" uuid NOT NULL REFERENCES "payments"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"buyer_id" uuid NOT NULL REFERENCES "buyers"("id"),
	"credits" integer NOT NULL,
	"amount" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"stripe_refund_id" text,
	"reason" text,
	"created_by_user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_refunds_credits" CHECK ("credits" > 0 AND "amount" > 0),
	CONSTRAINT "payment_refunds_status" CHECK ("status" IN ('pending','succeeded','failed','canceled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "payment_refunds_stripe_uq" ON "payment_refunds" ("stripe_refund_id") WHERE "stripe_refund_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "payment_refunds_payment_idx" ON "payment_refunds" ("payment_id");--> statement-breakpoint
-- A card dispute (chargeback): its credits are debited when it is opened.
CREATE TABLE "payment_disputes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"payment_id" uuid NOT NULL REFERENCES "payments"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"buyer_id" uuid NOT NULL REFERENCES "buyers"("id"),
	"stripe_dispute_id" text NOT NULL,
	"credits" integer NOT NULL,
	"amount" integer NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	CONSTRAINT "payment_disputes_credits" CHECK ("credits" > 0 AND "amount" > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "payment_disputes_stripe_uq" ON "payment_disputes" ("stripe_dispute_id");--> statement-breakpoint
-- Every verified Stripe event, once: what it did (credited, debited, ignored, refused and why).
CREATE TABLE "stripe_events" (
	"id" text PRIMARY KEY NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"type" text NOT NULL,
	"object_id" text,
	"payment_id" uuid,
	"outcome" text NOT NULL,
	"detail" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stripe_events_outcome" CHECK ("outcome" IN ('applied','duplicate','ignored','refused'))
);
--> statement-breakpoint
CREATE INDEX "stripe_events_agency_idx" ON "stripe_events" ("agency_id", "received_at");--> statement-breakpoint
-- A buyer's card on file and its auto-recharge: below `recharge_threshold`
-- credits, buy `recharge_credits` more (off-session), one at a time.
CREATE TABLE "buyer_billing" (
	"buyer_id" uuid PRIMARY KEY NOT NULL REFERENCES "buyers"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"stripe_customer_id" text,
	"payment_method_id" text,
	"card_brand" text,
	"card_last4" text,
	"card_exp" text,
	"recharge_enabled" boolean DEFAULT false NOT NULL,
	"recharge_threshold" integer,
	"recharge_credits" integer,
	"recharge_armed" boolean DEFAULT true NOT NULL,
	"recharge_failures" integer DEFAULT 0 NOT NULL,
	"recharge_paused_reason" text,
	"recharge_paused_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "buyer_billing_recharge" CHECK (NOT "recharge_enabled" OR ("payment_method_id" IS NOT NULL AND "recharge_threshold" >= 0 AND "recharge_credits" > 0)),
	CONSTRAINT "buyer_billing_failures" CHECK ("recharge_failures" >= 0)
);
--> statement-breakpoint
-- The recharge outbox: a row written by the wallet trigger in the very
-- transaction whose entry took the balance below the threshold (a sale), drained
-- by the worker, which starts the buyer's recharge workflow (one in flight).
CREATE TABLE "recharge_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"buyer_id" uuid NOT NULL REFERENCES "buyers"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"balance" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "recharge_requests_due_idx" ON "recharge_requests" ("created_at") WHERE "started_at" IS NULL;--> statement-breakpoint
CREATE OR REPLACE FUNCTION wallet_auto_recharge() RETURNS trigger AS $$
DECLARE
  b record;
BEGIN
  IF NEW.balance = OLD.balance THEN
    RETURN NULL;
  END IF;
  SELECT buyer_id, agency_id, recharge_threshold, recharge_armed INTO b
    FROM buyer_billing
    WHERE buyer_id = NEW.buyer_id AND recharge_enabled AND recharge_paused_reason IS NULL;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF b.recharge_armed AND OLD.balance >= b.recharge_threshold AND NEW.balance < b.recharge_threshold THEN
    UPDATE buyer_billing SET recharge_armed = false WHERE buyer_id = b.buyer_id;
    INSERT INTO recharge_requests (buyer_id, agency_id, balance) VALUES (b.buyer_id, b.agency_id, NEW.balance);
  ELSIF NOT b.recharge_armed AND NEW.balance >= b.recharge_threshold THEN
    UPDATE buyer_billing SET recharge_armed = true WHERE buyer_id = b.buyer_id;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER wallet_auto_recharge AFTER UPDATE OF balance ON wallets
  FOR EACH ROW EXECUTE FUNCTION wallet_auto_recharge();
--> statement-breakpoint
-- New ledger kinds: a Stripe refund of a top-up and a card dispute debit
-- (negative), a dispute won back (positive).
ALTER TABLE "ledger_entries" DROP CONSTRAINT "ledger_amount_sign";--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_amount_sign" CHECK (
  ("kind" IN ('charge','card_refund','dispute') AND "amount" < 0)
  OR ("kind" IN ('top_up','refund','dispute_reversal') AND "amount" > 0)
  OR "kind" = 'adjustment');--> statement-breakpoint
-- The overdraft rule moves from the wallet's CHECK into the trigger that
-- applies an entry (it runs only for rows really inserted, so a replayed key
-- still does nothing): a debit may not take the balance below zero, except a
-- Stripe refund or dispute, which records money that has already left.
ALTER TABLE "wallets" DROP CONSTRAINT "wallets_balance_non_negative";--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_apply_entry() RETURNS trigger AS $$
DECLARE
  new_balance integer;
BEGIN
  UPDATE wallets SET balance = balance + NEW.amount, updated_at = now() WHERE buyer_id = NEW.buyer_id
    RETURNING balance INTO new_balance;
  IF NEW.amount < 0 AND new_balance < 0 AND NEW.kind NOT IN ('card_refund','dispute') THEN
    RAISE EXCEPTION 'the entry would take wallet % below zero', NEW.buyer_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'wallets_balance_non_negative';
  END IF;
  PERFORM pg_notify('leadwire_wallet', json_build_object(
    'buyerId', NEW.buyer_id, 'agencyId', NEW.agency_id, 'balance', new_balance,
    'entryId', NEW.id, 'kind', NEW.kind, 'amount', NEW.amount, 'at', NEW.created_at)::text);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
