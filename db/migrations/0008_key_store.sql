-- One key store for every secret at rest (#27 item 4; lib/key-store.ts, db/key-store.ts, docs/security.md).
--
-- Buyers' webhook signing secrets move to sealed columns: envelope encryption
-- under a master key from the environment, the master key's id inside each
-- sealed value (`lwk1.<key id>.…`). SQL cannot encrypt, so the plaintext
-- columns are renamed `…_plaintext` here and every process seals what is left
-- in them when it starts (db/key-store.ts `prepareKeyStore`), setting them to
-- NULL in the same UPDATE. A later migration drops them.
ALTER TABLE "buyers" RENAME COLUMN "webhook_secret" TO "webhook_secret_plaintext";--> statement-breakpoint
ALTER TABLE "buyers" RENAME COLUMN "webhook_secret_previous" TO "webhook_secret_previous_plaintext";--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "webhook_secret_sealed" text;--> statement-breakpoint
ALTER TABLE "buyers" ADD COLUMN "webhook_secret_previous_sealed" text;--> statement-breakpoint
ALTER TABLE "buyers" DROP CONSTRAINT "buyers_previous_secret_window";--> statement-breakpoint
ALTER TABLE "buyers" ADD CONSTRAINT "buyers_previous_secret_window" CHECK (("webhook_secret_previous_sealed" IS NULL AND "webhook_secret_previous_plaintext" IS NULL) = ("webhook_secret_previous_until" IS NULL));--> statement-breakpoint
ALTER TABLE "buyers" ADD CONSTRAINT "buyers_webhook_secret_sealed" CHECK ("webhook_secret_sealed" IS NULL OR "webhook_secret_sealed" LIKE 'lwk1.%');--> statement-breakpoint
ALTER TABLE "buyers" ADD CONSTRAINT "buyers_webhook_secret_previous_sealed" CHECK ("webhook_secret_previous_sealed" IS NULL OR "webhook_secret_previous_sealed" LIKE 'lwk1.%');--> statement-breakpoint
-- The key store's own keys, sealed like any secret: the root of the keyed HMACs (one row, `hmac`).
CREATE TABLE "key_store_roots" (
	"name" text PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "key_store_roots_sealed" CHECK ("sealed" LIKE 'lwk1.%')
);
