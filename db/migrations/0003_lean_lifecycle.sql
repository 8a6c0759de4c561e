-- The lean lifecycle: route-and-open stores the campaign settings the offer runs under, so a retried
-- open (a local activity re-run after a worker crash) answers the workflow exactly as the first did.
ALTER TABLE "offers" ADD COLUMN "route" jsonb;--> statement-breakpoint
-- The claim relay reads offer, target and prior sale in one query; the metrics scrape counts open offers.
CREATE INDEX IF NOT EXISTS "offers_status_idx" ON "offers" ("status") WHERE "status" = 'open';
