-- The supply side: lead sources (suppliers) with their own keys, the campaigns
-- each may post into with its payout rule, the source ledger (what the agency
-- owes each source), pings, and the lead's source, sub id and click id.
--
-- The source ledger has the buyers' ledger's guarantees (0001): integer
-- amounts, a unique idempotency key, the balance moved by an AFTER trigger in
-- the same statement (so it always equals the sum of the entries), and no
-- UPDATE or DELETE. On top of that the database ties payouts to sales: a
-- payout names its assignment (at most one payout and one reversal each), a
-- reversal must undo exactly its payout, and a sale of a lead that came from a
-- source cannot commit without its payout (a deferred constraint trigger).
CREATE TABLE "sources" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"name" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sources_status_known" CHECK ("status" IN ('active', 'paused'))
);
--> statement-breakpoint
CREATE INDEX "sources_agency_idx" ON "sources" ("agency_id", "created_at");
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "source_id" uuid REFERENCES "sources"("id");
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_source_owner" CHECK (("kind" = 'source') = ("source_id" IS NOT NULL));
--> statement-breakpoint
CREATE INDEX "api_keys_source_idx" ON "api_keys" ("source_id") WHERE "source_id" IS NOT NULL;
--> statement-breakpoint
-- The campaigns a source may post into, each with its payout rule: a fixed
-- amount per sold lead, or a share (basis points) of the sale price.
CREATE TABLE "source_campaigns" (
	"source_id" uuid NOT NULL REFERENCES "sources"("id"),
	"campaign_id" uuid NOT NULL REFERENCES "campaigns"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"allowed" boolean DEFAULT true NOT NULL,
	"payout_kind" text NOT NULL,
	"payout_amount" integer,
	"payout_share_bps" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "source_campaigns_pk" PRIMARY KEY ("source_id", "campaign_id"),
	CONSTRAINT "source_campaigns_rule" CHECK (
		("payout_kind" = 'fixed' AND "payout_amount" >= 0 AND "payout_share_bps" IS NULL)
		OR ("payout_kind" = 'share' AND "payout_share_bps" BETWEEN 0 AND 10000 AND "payout_amount" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "source_wallets" (
	"source_id" uuid PRIMARY KEY NOT NULL REFERENCES "sources"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"balance" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "source_ledger_entries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"source_id" uuid NOT NULL REFERENCES "source_wallets"("source_id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"kind" text NOT NULL,
	"amount" integer NOT NULL,
	"balance_after" integer DEFAULT 0 NOT NULL,
	"idempotency_key" text NOT NULL,
	"lead_id" uuid REFERENCES "leads"("id"),
	"assignment_id" uuid REFERENCES "assignments"("id"),
	"reference" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "source_ledger_amount_sign" CHECK (
		("kind" = 'payout' AND "amount" >= 0 AND "assignment_id" IS NOT NULL)
		OR ("kind" = 'reversal' AND "amount" <= 0 AND "assignment_id" IS NOT NULL)
		OR ("kind" = 'settlement' AND "amount" < 0)
		OR ("kind" = 'adjustment' AND "amount" <> 0))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "source_ledger_idempotency_uq" ON "source_ledger_entries" ("idempotency_key");
--> statement-breakpoint
CREATE UNIQUE INDEX "source_ledger_assignment_kind_uq" ON "source_ledger_entries" ("assignment_id", "kind") WHERE "kind" IN ('payout', 'reversal');
--> statement-breakpoint
CREATE INDEX "source_ledger_source_idx" ON "source_ledger_entries" ("source_id", "created_at");
--> statement-breakpoint
CREATE INDEX "source_ledger_lead_idx" ON "source_ledger_entries" ("lead_id") INCLUDE ("amount");
--> statement-breakpoint
CREATE OR REPLACE FUNCTION source_ledger_lock_wallet() RETURNS trigger AS $$
DECLARE
  current_balance integer;
  paid integer;
BEGIN
  SELECT balance INTO current_balance FROM source_wallets WHERE source_id = NEW.source_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no wallet for source %', NEW.source_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF NEW.kind = 'reversal' THEN
    SELECT amount INTO paid FROM source_ledger_entries WHERE assignment_id = NEW.assignment_id AND kind = 'payout';
    IF NOT FOUND OR NEW.amount <> -paid THEN
      RAISE EXCEPTION 'a reversal must undo exactly the payout of assignment %', NEW.assignment_id USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  NEW.balance_after := current_balance + NEW.amount;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER source_ledger_lock_wallet BEFORE INSERT ON source_ledger_entries
  FOR EACH ROW EXECUTE FUNCTION source_ledger_lock_wallet();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION source_ledger_apply_entry() RETURNS trigger AS $$
BEGIN
  UPDATE source_wallets SET balance = balance + NEW.amount, updated_at = now() WHERE source_id = NEW.source_id;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER source_ledger_apply_entry AFTER INSERT ON source_ledger_entries
  FOR EACH ROW EXECUTE FUNCTION source_ledger_apply_entry();
--> statement-breakpoint
CREATE TRIGGER source_ledger_append_only BEFORE UPDATE OR DELETE ON source_ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "source_id" uuid REFERENCES "sources"("id");
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "sub_id" text;
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "click_id" text;
--> statement-breakpoint
CREATE INDEX "leads_source_idx" ON "leads" ("source_id", "created_at", "id") WHERE "source_id" IS NOT NULL;
--> statement-breakpoint
-- Reports read an agency's leads by creation time.
CREATE INDEX "leads_agency_created_idx" ON "leads" ("agency_id", "created_at") INCLUDE ("campaign_id", "source_id", "status");
--> statement-breakpoint
CREATE INDEX "assignments_lead_idx" ON "assignments" ("lead_id") INCLUDE ("buyer_id", "price", "status", "offer_id", "created_at");
--> statement-breakpoint
CREATE INDEX "ledger_lead_idx" ON "ledger_entries" ("lead_id") INCLUDE ("amount", "kind") WHERE "lead_id" IS NOT NULL;
--> statement-breakpoint
-- No sold lead of a source without its payout: checked at commit, so the
-- payout written later in the sale's transaction satisfies it.
CREATE OR REPLACE FUNCTION assignment_requires_source_payout() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM leads WHERE id = NEW.lead_id AND source_id IS NOT NULL)
     AND NOT EXISTS (SELECT 1 FROM source_ledger_entries WHERE assignment_id = NEW.id AND kind = 'payout') THEN
    RAISE EXCEPTION 'the sale % of a sourced lead has no payout', NEW.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER assignment_requires_source_payout AFTER INSERT ON assignments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION assignment_requires_source_payout();
--> statement-breakpoint
CREATE TABLE "pings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"source_id" uuid NOT NULL REFERENCES "sources"("id"),
	"campaign_id" uuid NOT NULL REFERENCES "campaigns"("id"),
	"fields" jsonb NOT NULL,
	"sub_id" text,
	"click_id" text,
	"decision" text NOT NULL,
	"reason" text,
	"price" integer,
	"payout" integer,
	"expires_at" timestamp with time zone NOT NULL,
	"posted_at" timestamp with time zone,
	"lead_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pings_decision_known" CHECK ("decision" IN ('accepted', 'rejected'))
);
--> statement-breakpoint
CREATE INDEX "pings_source_idx" ON "pings" ("source_id", "created_at");
--> statement-breakpoint
CREATE INDEX "pings_agency_created_idx" ON "pings" ("agency_id", "created_at") INCLUDE ("source_id", "campaign_id", "decision");
