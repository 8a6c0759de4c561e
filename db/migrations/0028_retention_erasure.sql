-- Personal data kept only as long as needed (#23 item 6): a lead's personal
-- fields are erased after the agency's retention period (`retentionDays` in
-- the agency's settings; off by default), or for one person on request (by
-- phone or email). `leads.erased_at` marks an erased lead, so the retention
-- job finds the rest and running it twice changes nothing.
ALTER TABLE "leads" ADD COLUMN "erased_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "leads_unerased_idx" ON "leads" ("agency_id", "created_at") WHERE "erased_at" IS NULL;--> statement-breakpoint
-- One row per erasure request: when, by whom, what it erased (rows per table),
-- and a keyed HMAC of the person's normalised phone or email (the agency's
-- suppression key, db/suppression.ts) – never the identifier itself.
CREATE TABLE "erasure_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"kind" text NOT NULL,
	"identifier_hmac" text NOT NULL,
	"actor_label" text NOT NULL,
	"actor_user_id" uuid,
	"suppressed" boolean NOT NULL DEFAULT false,
	"leads" integer NOT NULL,
	"counts" jsonb NOT NULL DEFAULT '{}'::jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "erasure_requests_kind" CHECK ("kind" IN ('phone', 'email')),
	CONSTRAINT "erasure_requests_hmac_shape" CHECK ("identifier_hmac" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "erasure_requests_leads" CHECK ("leads" >= 0)
);--> statement-breakpoint
CREATE INDEX "erasure_requests_agency_idx" ON "erasure_requests" ("agency_id", "created_at", "id");--> statement-breakpoint
-- A string (or number) that contains any of the needles (case-insensitive)
-- becomes '[erased]', wherever it sits in the document; keys and the rest of
-- the structure stay. Used on the stored JSON of an erased lead's rows.
CREATE FUNCTION lw_erase_jsonb(doc jsonb, needles text[]) RETURNS jsonb AS $$
DECLARE
	t text;
	n text;
	result jsonb;
BEGIN
	IF doc IS NULL THEN RETURN NULL; END IF;
	CASE jsonb_typeof(doc)
	WHEN 'string', 'number' THEN
		t := lower(doc #>> '{}');
		FOREACH n IN ARRAY needles LOOP
			IF n <> '' AND position(lower(n) IN t) > 0 THEN RETURN to_jsonb('[erased]'::text); END IF;
		END LOOP;
		RETURN doc;
	WHEN 'object' THEN
		SELECT coalesce(jsonb_object_agg(e.key, lw_erase_jsonb(e.value, needles)), '{}'::jsonb)
			INTO result FROM jsonb_each(doc) AS e;
		RETURN result;
	WHEN 'array' THEN
		SELECT coalesce(jsonb_agg(lw_erase_jsonb(a.value, needles) ORDER BY a.ord), '[]'::jsonb)
			INTO result FROM jsonb_array_elements(doc) WITH ORDINALITY AS a(value, ord);
		RETURN result;
	ELSE
		RETURN doc;
	END CASE;
END;
$$ LANGUAGE plpgsql IMMUTABLE;--> statement-breakpoint
-- The same for a text column: the whole text becomes '[erased]' when it contains a needle.
CREATE FUNCTION lw_erase_text(t text, needles text[]) RETURNS text AS $$
DECLARE
	n text;
BEGIN
	IF t IS NULL THEN RETURN NULL; END IF;
	FOREACH n IN ARRAY needles LOOP
		IF n <> '' AND position(lower(n) IN lower(t)) > 0 THEN RETURN '[erased]'; END IF;
	END LOOP;
	RETURN t;
END;
$$ LANGUAGE plpgsql IMMUTABLE;
