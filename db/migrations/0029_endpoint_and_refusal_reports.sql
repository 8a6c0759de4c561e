-- Reports of buyer endpoints (#22 item 5) and of the leads refused at intake (#23 item 7).
--
-- endpoint_call_facts: one narrow row per ping or post call of a buyer
-- endpoint (never a test call), written by a trigger on endpoint_calls in the
-- recording's own statement. The log keeps only the last 100 calls of each
-- endpoint and goes with it; the facts keep what the reports count (buyer,
-- step, outcome, bid, the post's idempotency key, the time) for good, with no
-- request or answer body, and are never updated.
CREATE TABLE "endpoint_call_facts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"buyer_id" uuid NOT NULL REFERENCES "buyers"("id") ON DELETE CASCADE,
	"step" text NOT NULL,
	"outcome" text NOT NULL,
	"bid" integer,
	"idempotency_key" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "endpoint_call_facts_step" CHECK ("step" IN ('ping', 'post'))
);
--> statement-breakpoint
CREATE INDEX "endpoint_call_facts_agency_idx" ON "endpoint_call_facts" USING btree ("agency_id", "created_at");
--> statement-breakpoint
CREATE OR REPLACE FUNCTION endpoint_call_fact() RETURNS trigger AS $$
BEGIN
  INSERT INTO endpoint_call_facts (id, agency_id, buyer_id, step, outcome, bid, idempotency_key, created_at)
  SELECT NEW.id, e.agency_id, e.buyer_id, NEW.step, NEW.outcome, NEW.bid, NEW.idempotency_key, NEW.created_at
  FROM buyer_endpoints e WHERE e.id = NEW.endpoint_id;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER endpoint_call_fact AFTER INSERT ON endpoint_calls
  FOR EACH ROW WHEN (NEW.kind <> 'test') EXECUTE FUNCTION endpoint_call_fact();
--> statement-breakpoint
-- The calls logged before this migration (what the log still holds).
INSERT INTO endpoint_call_facts (id, agency_id, buyer_id, step, outcome, bid, idempotency_key, created_at)
SELECT c.id, e.agency_id, e.buyer_id, c.step, c.outcome, c.bid, c.idempotency_key, c.created_at
FROM endpoint_calls c JOIN buyer_endpoints e ON e.id = c.endpoint_id
WHERE c.kind <> 'test';
--> statement-breakpoint
-- intake_refusals: one row per lead intake refused (or stored only to be held
-- back: `suppressed`), with its reason code, the field it names, the source
-- and its sub and click ids – never the person's fields. Appended by the
-- refusing path, never updated; ping refusals are the pings' own rows.
CREATE TABLE "intake_refusals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"source_id" uuid REFERENCES "sources"("id"),
	"campaign_id" uuid NOT NULL REFERENCES "campaigns"("id"),
	"reason" text NOT NULL,
	"field" text,
	"sub_id" text,
	"click_id" text,
	"ping_id" uuid,
	"lead_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "intake_refusals_agency_idx" ON "intake_refusals" USING btree ("agency_id", "created_at");
--> statement-breakpoint
CREATE INDEX "intake_refusals_source_idx" ON "intake_refusals" USING btree ("source_id", "created_at");
