-- Reconciliation of card payments (#21 item 5): a webhook can be lost (an
-- outage longer than Stripe's retries, a wrong signing secret for a day), so a
-- job lists each agency's recent succeeded PaymentIntents from Stripe and
-- credits those the ledger lacks, through the webhook's own crediting path and
-- ledger key (`stripe:<payment intent id>`). One row per agency per run says
-- what it checked and what it fixed; `findings` lists every payment it did
-- something about (credited, ignored as not Leadwire's, refused and why).
CREATE TABLE "payment_reconciliations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"window_start" timestamp with time zone NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"status" text NOT NULL,
	"checked" integer DEFAULT 0 NOT NULL,
	"credited" integer DEFAULT 0 NOT NULL,
	"already_credited" integer DEFAULT 0 NOT NULL,
	"ignored" integer DEFAULT 0 NOT NULL,
	"errors" integer DEFAULT 0 NOT NULL,
	"findings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	"run_by" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_reconciliations_status" CHECK ("status" IN ('completed','failed')),
	CONSTRAINT "payment_reconciliations_window" CHECK ("window_start" < "window_end"),
	CONSTRAINT "payment_reconciliations_counts" CHECK ("checked" >= 0 AND "credited" >= 0 AND "already_credited" >= 0 AND "ignored" >= 0 AND "errors" >= 0
		AND "credited" + "already_credited" + "ignored" + "errors" = "checked")
);
--> statement-breakpoint
CREATE INDEX "payment_reconciliations_agency_idx" ON "payment_reconciliations" ("agency_id", "started_at");
