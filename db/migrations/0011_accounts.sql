-- People sign in as people (#20). A user is an email and a display name; a
-- membership gives the user a role in one organisation: the platform
-- (operator), an agency, one of its buyers or one of its sources. Sessions are
-- server-side rows: the browser holds only an opaque id whose SHA-256 is
-- stored here. One-time tokens (setup, invitation, sign-in link, password
-- reset) are stored the same way and work once. Secrets that must be read
-- back (TOTP seeds, OIDC client secrets) are sealed by the key store.
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	-- lower-cased and trimmed by the code; unique
	"email" text NOT NULL,
	"display_name" text NOT NULL,
	-- argon2id PHC string; null: no password (a passkey, a link or SSO only)
	"password_hash" text,
	"email_verified_at" timestamp with time zone,
	-- key-store sealed TOTP seed (purpose totp_seed); enabled once confirmed
	"totp_seed_sealed" text,
	"totp_enabled_at" timestamp with time zone,
	-- the last TOTP time step accepted: a code is never accepted twice
	"totp_last_step" bigint,
	"disabled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_normalised" CHECK ("email" = lower(btrim("email")) AND position('@' in "email") > 1)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_uq" ON "users" ("email");
--> statement-breakpoint

CREATE TABLE "memberships" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL REFERENCES "users"("id"),
	-- platform | agency | buyer | source
	"org_kind" text NOT NULL,
	-- null only for the platform; the buyer's or source's agency otherwise
	"agency_id" uuid REFERENCES "agencies"("id"),
	"buyer_id" uuid REFERENCES "buyers"("id"),
	"source_id" uuid REFERENCES "sources"("id"),
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "memberships_org_shape" CHECK (
		("org_kind" = 'platform' AND "agency_id" IS NULL AND "buyer_id" IS NULL AND "source_id" IS NULL AND "role" = 'operator')
		OR ("org_kind" = 'agency' AND "agency_id" IS NOT NULL AND "buyer_id" IS NULL AND "source_id" IS NULL
			AND "role" IN ('owner', 'admin', 'dispatcher', 'analyst'))
		OR ("org_kind" = 'buyer' AND "agency_id" IS NOT NULL AND "buyer_id" IS NOT NULL AND "source_id" IS NULL
			AND "role" IN ('owner', 'member'))
		OR ("org_kind" = 'source' AND "agency_id" IS NOT NULL AND "buyer_id" IS NULL AND "source_id" IS NOT NULL
			AND "role" IN ('owner', 'member'))
	)
);
--> statement-breakpoint
-- one membership per user and organisation
CREATE UNIQUE INDEX "memberships_user_org_uq" ON "memberships" (
	"user_id", "org_kind", COALESCE("buyer_id", "source_id", "agency_id", '00000000-0000-0000-0000-000000000000'::uuid)
);
--> statement-breakpoint
CREATE INDEX "memberships_agency_idx" ON "memberships" ("agency_id");
--> statement-breakpoint
CREATE INDEX "memberships_buyer_idx" ON "memberships" ("buyer_id") WHERE "buyer_id" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "memberships_source_idx" ON "memberships" ("source_id") WHERE "source_id" IS NOT NULL;
--> statement-breakpoint

CREATE TABLE "sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	-- hex SHA-256 of the opaque id in the cookie
	"token_hash" text NOT NULL,
	"user_id" uuid NOT NULL REFERENCES "users"("id"),
	-- the organisation the session acts in (a user with several picks one); null: none chosen yet
	"membership_id" uuid REFERENCES "memberships"("id") ON DELETE SET NULL,
	-- full: signed in; second_factor: the password was right, a TOTP/recovery code or passkey is owed
	"stage" text DEFAULT 'full' NOT NULL,
	-- how the person signed in: password, link, passkey, sso, setup, invitation
	"method" text NOT NULL,
	-- the CSRF token the pages send back as X-CSRF-Token on unsafe requests
	"csrf_token" text NOT NULL,
	"user_agent" text,
	"ip" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "sessions_stage_known" CHECK ("stage" IN ('full', 'second_factor'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_token_uq" ON "sessions" ("token_hash");
--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" ("user_id") WHERE "revoked_at" IS NULL;
--> statement-breakpoint

CREATE TABLE "one_time_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	-- setup | invitation | sign_in_link | password_reset
	"purpose" text NOT NULL,
	"token_hash" text NOT NULL,
	"email" text,
	"user_id" uuid REFERENCES "users"("id"),
	-- invitation: { orgKind, agencyId, buyerId?, sourceId?, role }
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by_user_id" uuid REFERENCES "users"("id"),
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "one_time_tokens_purpose_known" CHECK ("purpose" IN ('setup', 'invitation', 'sign_in_link', 'password_reset'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "one_time_tokens_hash_uq" ON "one_time_tokens" ("token_hash");
--> statement-breakpoint

CREATE TABLE "passkeys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL REFERENCES "users"("id"),
	-- base64url credential id from the authenticator
	"credential_id" text NOT NULL,
	-- base64url COSE public key
	"public_key" text NOT NULL,
	"counter" bigint DEFAULT 0 NOT NULL,
	"transports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "passkeys_credential_uq" ON "passkeys" ("credential_id");
--> statement-breakpoint
CREATE INDEX "passkeys_user_idx" ON "passkeys" ("user_id");
--> statement-breakpoint

CREATE TABLE "recovery_codes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL REFERENCES "users"("id"),
	-- hex SHA-256 of the code
	"code_hash" text NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "recovery_codes_uq" ON "recovery_codes" ("user_id", "code_hash");
--> statement-breakpoint

-- single sign-on per agency (OpenID Connect, authorization code + PKCE)
CREATE TABLE "agency_sso" (
	"agency_id" uuid PRIMARY KEY NOT NULL REFERENCES "agencies"("id"),
	"issuer" text NOT NULL,
	"client_id" text NOT NULL,
	-- key-store sealed (purpose oidc_client_secret)
	"client_secret_sealed" text NOT NULL,
	"allowed_domains" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"default_role" text DEFAULT 'analyst' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agency_sso_default_role" CHECK ("default_role" IN ('admin', 'dispatcher', 'analyst'))
);
--> statement-breakpoint

-- an agency can require a second factor of its owners and admins
ALTER TABLE "agencies" ADD COLUMN "require_two_factor" boolean DEFAULT false NOT NULL;
--> statement-breakpoint

-- API keys belong to people: a name, the role they act as (never above their
-- creator's), an optional expiry, the last use. Keys made before accounts get
-- a name and the role their kind always had; their creator is unknown (null)
-- until the agency's first owner adopts them (db/accounts.ts).
ALTER TABLE "api_keys" ADD COLUMN "name" text;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "role" text;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "created_by_user_id" uuid REFERENCES "users"("id");
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "expires_at" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "last_used_at" timestamp with time zone;
--> statement-breakpoint
UPDATE "api_keys" SET
	"name" = CASE "kind" WHEN 'admin' THEN 'Admin key (made before accounts)'
		WHEN 'buyer' THEN 'Buyer key (made before accounts)' ELSE 'Source key (made before accounts)' END,
	"role" = CASE "kind" WHEN 'admin' THEN 'admin' ELSE 'owner' END;
--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "name" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "role" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_role_fits_kind" CHECK (
	("kind" = 'admin' AND "role" IN ('owner', 'admin', 'dispatcher', 'analyst'))
	OR ("kind" IN ('buyer', 'source') AND "role" IN ('owner', 'member'))
);
