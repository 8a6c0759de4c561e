-- Publish first, then the paperwork (#26 item 2). Opening an offer commits in
-- two steps: first the offer row with the ids of the buyers it targets (and
-- their own prices), after which `offer.opened` leaves for the feed; then the
-- per-candidate verdict rows (offer_targets), the `targeted` / `excluded`
-- events, the alert outbox and the lead `offered`.
--
-- offers.target_ids / target_prices: the eligible buyers and their own prices
-- (#12; buyer id -> price, null when none has one), committed with the offer.
-- A claim or a bid whose buyer has no verdict row yet is judged from them.
-- Null on offers opened before this migration (their verdict rows are there).
ALTER TABLE "offers" ADD COLUMN "target_ids" uuid[];
--> statement-breakpoint
ALTER TABLE "offers" ADD COLUMN "target_prices" jsonb;
--> statement-breakpoint
-- offer_paperwork: the verdicts still to be written, one row per offer whose
-- first step committed and whose second has not. The second step deletes the
-- row in its own transaction (so it is done once, whoever runs it: the
-- activity, its retry, or the routing sweep that repairs a crash between the
-- two steps). Normally empty, or a few rows for milliseconds.
CREATE TABLE "offer_paperwork" (
	"offer_id" uuid PRIMARY KEY NOT NULL,
	"verdicts" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "offer_paperwork_offer_id_offers_id_fk" FOREIGN KEY ("offer_id") REFERENCES "public"."offers"("id") ON DELETE no action ON UPDATE no action
);
--> statement-breakpoint
CREATE INDEX "offer_paperwork_created_idx" ON "offer_paperwork" USING btree ("created_at");
--> statement-breakpoint
-- target_lists: a target list too large for a NOTIFY payload, stored once
-- under the hash of its content; `offer.opened` then carries the hash, and
-- every gateway keeps the lists it has read, so an offer to the same buyers as
-- an earlier one (the usual case: a campaign's eligible buyers change slowly)
-- costs no read at all. Rows are never updated (same content, same id).
CREATE TABLE "target_lists" (
	"id" text PRIMARY KEY NOT NULL,
	"buyer_ids" uuid[] NOT NULL,
	"prices" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
