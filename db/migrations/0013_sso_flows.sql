-- Single sign-on sign-ins in flight (#20): a row per browser sent to its
-- agency's OpenID provider, used once when the browser comes back. The state
-- in the provider's URL is stored as its SHA-256; the browser holds the PKCE
-- code verifier in a short-lived HttpOnly cookie, stored here only as its
-- SHA-256 – so a dump reveals nothing a sign-in could be finished with, and a
-- state without the browser that started it (or used twice) finds no row.
CREATE TABLE "sso_flows" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	-- SHA-256 of the PKCE code verifier the browser's cookie holds
	"verifier_hash" text NOT NULL,
	"nonce" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "sso_flows_expires_at" ON "sso_flows" ("expires_at");
