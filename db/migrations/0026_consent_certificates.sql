-- Consent certificates (#23 item 4). A campaign may require a TrustedForm or Jornaya certificate
-- ({provider, maxAgeSeconds, onClaimFailure}; null: none required).
ALTER TABLE "campaigns" ADD COLUMN "consent_certificate" jsonb;
--> statement-breakpoint
-- An agency's account with each provider: the base URL claims go to and the credential, sealed by the key store
-- (purpose `consent_provider.credential`, context the row's id); never answered back.
CREATE TABLE "consent_provider_credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"provider" text NOT NULL,
	"base_url" text NOT NULL,
	"credential_sealed" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_provider_credentials_provider_known" CHECK ("provider" IN ('trustedform', 'jornaya'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "consent_provider_credentials_agency_provider_uq" ON "consent_provider_credentials" ("agency_id", "provider");
--> statement-breakpoint
-- One claim per sale: keyed by the assignment, so a retried activity finds the claim it made and never claims twice.
CREATE TABLE "consent_claims" (
	"assignment_id" uuid PRIMARY KEY NOT NULL REFERENCES "assignments"("id"),
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"lead_id" uuid NOT NULL REFERENCES "leads"("id"),
	"provider" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"answer" jsonb,
	"error" text,
	"flagged" boolean DEFAULT false NOT NULL,
	"claimed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_claims_provider_known" CHECK ("provider" IN ('trustedform', 'jornaya')),
	CONSTRAINT "consent_claims_status_known" CHECK ("status" IN ('pending', 'claimed', 'failed')),
	CONSTRAINT "consent_claims_claimed_at" CHECK (("status" = 'claimed') = ("claimed_at" IS NOT NULL))
);
--> statement-breakpoint
CREATE INDEX "consent_claims_lead_idx" ON "consent_claims" ("lead_id");
