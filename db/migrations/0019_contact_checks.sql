-- Contact checks (#23 items 1 and 2): beside the phone number the source sent
-- (leads.fields.phone, never changed), the number normalised to E.164 and its
-- type from libphonenumber's metadata, and the results of intake's checks
-- (phone, email, MX) with their latencies, which the timeline shows too.
-- Leads stored before this have none of them (null).
ALTER TABLE "leads" ADD COLUMN "phone_e164" text;
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "phone_type" text;
--> statement-breakpoint
ALTER TABLE "leads" ADD COLUMN "contact_checks" jsonb;
--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_phone_e164_shape" CHECK ("phone_e164" IS NULL OR "phone_e164" ~ '^\+[1-9][0-9]{6,14}$');
--> statement-breakpoint
-- Dedupe keys now hold the E.164 number: the keys of earlier leads that were a
-- US/Canada ten-digit number (the old normalisation dropped the leading 1) are
-- rewritten, so a lead inside the duplicate window still finds its twin.
UPDATE "leads" SET "dedupe_keys" = ARRAY(
  SELECT regexp_replace(k, '^(phone:.*:)([2-9][0-9]{9})$', '\1+1\2') FROM unnest("dedupe_keys") AS k
) WHERE EXISTS (SELECT 1 FROM unnest("dedupe_keys") AS k WHERE k ~ '^phone:.*:[2-9][0-9]{9}$');
