-- Passkeys (#20): every WebAuthn ceremony answers a challenge the server chose.
-- A challenge is kept here until it is answered: bound to the session that
-- asked for it (registration, a second factor) or to nobody (a passkey sign-in
-- from the sign-in page), it expires after a few minutes and is consumed by
-- the one statement that checks it, so a replayed answer finds nothing.
CREATE TABLE "webauthn_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	-- base64url, as the authenticator echoes it in clientDataJSON
	"challenge" text NOT NULL,
	-- registration | authentication | second_factor
	"purpose" text NOT NULL,
	-- the session that asked (registration, second_factor); null for a sign-in
	"session_id" uuid REFERENCES "sessions"("id") ON DELETE CASCADE,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webauthn_challenges_purpose_known" CHECK ("purpose" IN ('registration', 'authentication', 'second_factor'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "webauthn_challenges_uq" ON "webauthn_challenges" ("challenge");
--> statement-breakpoint
CREATE INDEX "webauthn_challenges_expires_idx" ON "webauthn_challenges" ("expires_at");
