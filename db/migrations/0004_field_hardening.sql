-- Issue 16: Standard Webhooks secrets and rotation, webhook endpoint pause, every delivery attempt logged,
-- idempotency records that expire and reservations that are leased.
ALTER TABLE "buyers" ADD COLUMN "webhook_secret_previous" text;
--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "webhook_secret_previous_until" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "legacy_signature_until" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "webhook_paused_at" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "webhook_pause_reason" text;
--> statement-breakpoint
-- A previous secret signs only inside its overlap window: both or neither.
ALTER TABLE "buyers" ADD CONSTRAINT "buyers_previous_secret_window" CHECK (("webhook_secret_previous" IS NULL) = ("webhook_secret_previous_until" IS NULL));
--> statement-breakpoint
-- Buyers from before Standard Webhooks keep the old X-Leadwire-Signature header for 90 days (or until they rotate).
UPDATE "buyers" SET "legacy_signature_until" = now() + interval '90 days' WHERE "webhook_secret" IS NOT NULL;
--> statement-breakpoint
CREATE TABLE "delivery_attempts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"assignment_id" uuid NOT NULL REFERENCES "assignments"("id"),
	"channel" text NOT NULL,
	"attempt" integer NOT NULL,
	"redelivery" boolean DEFAULT false NOT NULL,
	"message_id" text,
	"outcome" text NOT NULL,
	"status_code" integer,
	"latency_ms" integer NOT NULL,
	"response" text,
	"error" text,
	"next_retry_ms" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "delivery_attempts_outcome" CHECK ("outcome" IN ('delivered', 'failed', 'refused', 'gone')),
	CONSTRAINT "delivery_attempts_attempt_positive" CHECK ("attempt" >= 1),
	CONSTRAINT "delivery_attempts_latency_non_negative" CHECK ("latency_ms" >= 0)
);
--> statement-breakpoint
CREATE INDEX "delivery_attempts_assignment_idx" ON "delivery_attempts" USING btree ("assignment_id","created_at");
--> statement-breakpoint
-- A reservation is a lease: its request renews it while it runs; one that lapsed belongs to a crashed request.
ALTER TABLE "idempotency_records" ADD COLUMN "lease_id" uuid;
--> statement-breakpoint
ALTER TABLE "idempotency_records" ADD COLUMN "lease_expires_at" timestamp with time zone;
--> statement-breakpoint
CREATE INDEX "idempotency_records_created_idx" ON "idempotency_records" USING btree ("created_at");
--> statement-breakpoint
-- Rate limits shared by every API process: one token bucket per (scope, key), leased out in small batches.
CREATE TABLE "rate_limit_buckets" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"tokens" double precision NOT NULL,
	"last_grant" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rate_limit_buckets_scope_key_pk" PRIMARY KEY("scope","key"),
	CONSTRAINT "rate_limit_buckets_tokens_non_negative" CHECK ("tokens" >= 0),
	CONSTRAINT "rate_limit_buckets_grant_non_negative" CHECK ("last_grant" >= 0)
);
