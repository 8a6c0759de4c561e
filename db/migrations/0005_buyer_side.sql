-- The buyer's side of the market (issue #12): hours of operation, pauses,
-- lead filters, alert settings and a low-balance threshold on the buyer;
-- per-buyer campaign prices; each target's own price on the offer; the
-- pipeline status history of bought leads; and the alert outbox that the
-- worker's dispatcher drains (offer alerts, low-balance alerts).
ALTER TABLE "buyers" ADD COLUMN "time_zone" text;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "schedule" jsonb;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "pauses" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "filters" jsonb;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "alerts" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "low_balance_threshold" integer;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "low_balance_armed" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "buyers" ADD CONSTRAINT "buyers_low_balance_threshold_non_negative" CHECK ("buyers"."low_balance_threshold" IS NULL OR "buyers"."low_balance_threshold" >= 0);--> statement-breakpoint
ALTER TABLE "offer_targets" ADD COLUMN "price" integer;--> statement-breakpoint
ALTER TABLE "offer_targets" ADD CONSTRAINT "offer_targets_price_non_negative" CHECK ("offer_targets"."price" IS NULL OR "offer_targets"."price" >= 0);--> statement-breakpoint
CREATE TABLE "campaign_buyer_prices" (
	"campaign_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"value" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaign_buyer_prices_pk" PRIMARY KEY("campaign_id","buyer_id"),
	CONSTRAINT "campaign_buyer_prices_rule" CHECK (("campaign_buyer_prices"."kind" = 'fixed' AND "campaign_buyer_prices"."value" >= 0 AND "campaign_buyer_prices"."value" <= 1000000) OR ("campaign_buyer_prices"."kind" = 'percent' AND "campaign_buyer_prices"."value" >= -100 AND "campaign_buyer_prices"."value" <= 1000))
);
--> statement-breakpoint
ALTER TABLE "campaign_buyer_prices" ADD CONSTRAINT "campaign_buyer_prices_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_buyer_prices" ADD CONSTRAINT "campaign_buyer_prices_buyer_id_buyers_id_fk" FOREIGN KEY ("buyer_id") REFERENCES "public"."buyers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE TABLE "pipeline_changes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"assignment_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"agency_id" uuid NOT NULL,
	"status" text NOT NULL,
	"note" text,
	"job_value" integer,
	"author_key_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pipeline_changes_status" CHECK ("pipeline_changes"."status" IN ('new','contacted','appointment','quoted','won_job','lost_job')),
	CONSTRAINT "pipeline_changes_job_value" CHECK ("pipeline_changes"."job_value" IS NULL OR "pipeline_changes"."job_value" >= 0)
);
--> statement-breakpoint
ALTER TABLE "pipeline_changes" ADD CONSTRAINT "pipeline_changes_assignment_id_assignments_id_fk" FOREIGN KEY ("assignment_id") REFERENCES "public"."assignments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_changes" ADD CONSTRAINT "pipeline_changes_buyer_id_buyers_id_fk" FOREIGN KEY ("buyer_id") REFERENCES "public"."buyers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "pipeline_changes_assignment_idx" ON "pipeline_changes" USING btree ("assignment_id","created_at");--> statement-breakpoint
CREATE INDEX "pipeline_changes_buyer_idx" ON "pipeline_changes" USING btree ("buyer_id","created_at");--> statement-breakpoint
CREATE TABLE "buyer_alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"channel" text NOT NULL,
	"offer_id" uuid,
	"lead_id" uuid,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "buyer_alerts_kind" CHECK ("buyer_alerts"."kind" IN ('offer_opened','low_balance')),
	CONSTRAINT "buyer_alerts_channel" CHECK ("buyer_alerts"."channel" IN ('webhook','email','sms','voice')),
	CONSTRAINT "buyer_alerts_status" CHECK ("buyer_alerts"."status" IN ('pending','sent','failed','skipped'))
);
--> statement-breakpoint
ALTER TABLE "buyer_alerts" ADD CONSTRAINT "buyer_alerts_buyer_id_buyers_id_fk" FOREIGN KEY ("buyer_id") REFERENCES "public"."buyers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "buyer_alerts_offer_uq" ON "buyer_alerts" USING btree ("offer_id","buyer_id","channel") WHERE "buyer_alerts"."kind" = 'offer_opened';--> statement-breakpoint
CREATE INDEX "buyer_alerts_due_idx" ON "buyer_alerts" USING btree ("next_attempt_at") WHERE "buyer_alerts"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "buyer_alerts_buyer_idx" ON "buyer_alerts" USING btree ("buyer_id","created_at");--> statement-breakpoint
-- Low-balance alerts, decided by the database in the very statement that moves
-- the balance (the ledger trigger's UPDATE of the wallet): crossing from at or
-- above the threshold to below it, while armed, queues one alert per chosen
-- channel and disarms; a balance back at or above the threshold (a top-up or
-- a refund) re-arms. So one alert per crossing, never one per charge, and no
-- poll.
CREATE OR REPLACE FUNCTION wallet_low_balance() RETURNS trigger AS $$
DECLARE
  b record;
BEGIN
  IF NEW.balance = OLD.balance THEN
    RETURN NULL;
  END IF;
  SELECT id, agency_id, low_balance_threshold, low_balance_armed, alerts INTO b FROM buyers WHERE id = NEW.buyer_id;
  IF NOT FOUND OR b.low_balance_threshold IS NULL THEN
    RETURN NULL;
  END IF;
  IF b.low_balance_armed AND OLD.balance >= b.low_balance_threshold AND NEW.balance < b.low_balance_threshold THEN
    UPDATE buyers SET low_balance_armed = false WHERE id = b.id;
    INSERT INTO buyer_alerts (agency_id, buyer_id, kind, channel, payload)
      SELECT b.agency_id, b.id, 'low_balance', ch, jsonb_build_object('balance', NEW.balance, 'threshold', b.low_balance_threshold)
      FROM jsonb_array_elements_text(COALESCE(b.alerts -> 'channels', '[]'::jsonb)) AS ch
      WHERE ch IN ('webhook','email','sms','voice');
  ELSIF NOT b.low_balance_armed AND NEW.balance >= b.low_balance_threshold THEN
    UPDATE buyers SET low_balance_armed = true WHERE id = b.id;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER wallet_low_balance AFTER UPDATE OF balance ON wallets
  FOR EACH ROW EXECUTE FUNCTION wallet_low_balance();
