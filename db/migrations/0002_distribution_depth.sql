CREATE TABLE "bids" (
	"offer_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"amount" integer NOT NULL,
	"request_id" text NOT NULL,
	"seq" integer NOT NULL,
	"placed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bids_offer_id_buyer_id_pk" PRIMARY KEY("offer_id","buyer_id"),
	CONSTRAINT "bids_amount_positive" CHECK ("bids"."amount" >= 0)
);
--> statement-breakpoint
CREATE TABLE "buyer_changes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"actor" text NOT NULL,
	"changes" jsonb NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agencies" ADD COLUMN "settings" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "paused_by" text;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "webhook_secret" text;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "consecutive_delivery_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "auction" text DEFAULT 'first_claim' NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "floor_price" integer;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "pricing" text DEFAULT 'first_price' NOT NULL;--> statement-breakpoint
ALTER TABLE "disputes" ADD COLUMN "reason_code" text;--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "consent" jsonb;--> statement-breakpoint
ALTER TABLE "offers" ADD COLUMN "auction" text DEFAULT 'first_claim' NOT NULL;--> statement-breakpoint
ALTER TABLE "offers" ADD COLUMN "pricing" text DEFAULT 'first_price' NOT NULL;--> statement-breakpoint
ALTER TABLE "bids" ADD CONSTRAINT "bids_offer_id_offers_id_fk" FOREIGN KEY ("offer_id") REFERENCES "public"."offers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bids" ADD CONSTRAINT "bids_buyer_id_buyers_id_fk" FOREIGN KEY ("buyer_id") REFERENCES "public"."buyers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "buyer_changes" ADD CONSTRAINT "buyer_changes_agency_id_agencies_id_fk" FOREIGN KEY ("agency_id") REFERENCES "public"."agencies"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "buyer_changes" ADD CONSTRAINT "buyer_changes_buyer_id_buyers_id_fk" FOREIGN KEY ("buyer_id") REFERENCES "public"."buyers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "buyer_changes_buyer_idx" ON "buyer_changes" USING btree ("buyer_id","created_at");