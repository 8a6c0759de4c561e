-- Suppression and Do-Not-Call lists (#23 item 3). A phone number or email is
-- never stored here, only a keyed HMAC-SHA256 of its normalised form (E.164;
-- the lower-cased address), prefixed by its kind. The key is derived from the
-- key store's sealed HMAC root (key_store_roots) with HKDF and a salt per
-- scope kept below: an agency's id, or 'platform' for the lists kept once for
-- every agency. The salt alone is useless without the root, which exists in
-- clear only in the processes' memory: a dump of these tables cannot be
-- reversed by enumerating the ten-digit numbers.
CREATE TABLE "suppression_salts" (
	"scope" text PRIMARY KEY NOT NULL,
	"salt" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- The HMAC is 32 bytes (bytea: half the index of its text form, compared with memcmp), and the key is the
-- (agency, list, hmac) triple itself: a bulk load writes one index per row, no surrogate id.
CREATE TABLE "suppression_entries" (
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"list" text NOT NULL,
	"kind" text NOT NULL,
	"hmac" bytea NOT NULL,
	"source" text NOT NULL,
	"note" text,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppression_entries_list_known" CHECK ("list" IN ('do_not_contact', 'litigator', 'returned_fraud')),
	CONSTRAINT "suppression_entries_kind_known" CHECK ("kind" IN ('phone', 'email')),
	CONSTRAINT "suppression_entries_source_known" CHECK ("source" IN ('api', 'csv', 'return')),
	CONSTRAINT "suppression_entries_hmac_shape" CHECK (octet_length("hmac") = 32),
	-- One index: a look-up names the agency, its three lists and the HMACs, so this one serves it too.
	CONSTRAINT "suppression_entries_pk" PRIMARY KEY ("agency_id", "list", "hmac")
);
--> statement-breakpoint
-- The platform's lists: the national registry (state '') and each state's own (its two-letter code).
CREATE TABLE "dnc_entries" (
	"list" text NOT NULL,
	"state" text DEFAULT '' NOT NULL,
	"hmac" bytea NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dnc_entries_pk" PRIMARY KEY ("hmac", "list", "state"),
	CONSTRAINT "dnc_entries_list_state" CHECK (("list" = 'national_dnc' AND "state" = '') OR ("list" = 'state_dnc' AND "state" ~ '^[A-Z]{2}$')),
	CONSTRAINT "dnc_entries_hmac_shape" CHECK (octet_length("hmac") = 32)
);
--> statement-breakpoint
-- Whether a lead on a Do-Not-Call list passes when it carries express written consent.
ALTER TABLE "campaigns" ADD COLUMN "dnc_rule" text DEFAULT 'suppress' NOT NULL;
--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_dnc_rule_known" CHECK ("dnc_rule" IN ('suppress', 'consent_passes'));
