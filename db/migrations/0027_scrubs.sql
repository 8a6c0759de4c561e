-- Third-party scrubs (#23 item 5): a TCPA litigator list and a phone line status provider, each turned on per
-- agency. The credentials are sealed by the key store (purpose `scrub.secret`, context `<agency id>:<scrub>`) and
-- in its rotation. The circuit breaker's state lives on the same row so every process of the agency sees it.
CREATE TABLE "scrub_settings" (
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"scrub" text NOT NULL,
	"enabled" boolean DEFAULT false NOT NULL,
	"base_url" text NOT NULL,
	"username" text,
	"secret_sealed" text NOT NULL,
	"monthly_budget" integer,
	"timeout_ms" integer DEFAULT 800 NOT NULL,
	"failure_threshold" integer DEFAULT 5 NOT NULL,
	"cooldown_ms" integer DEFAULT 30000 NOT NULL,
	"litigator_rule" text DEFAULT 'refuse' NOT NULL,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"circuit_opened_at" timestamp with time zone,
	"probe_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scrub_settings_pk" PRIMARY KEY ("agency_id", "scrub"),
	CONSTRAINT "scrub_settings_scrub_known" CHECK ("scrub" IN ('litigator', 'line_status')),
	CONSTRAINT "scrub_settings_secret_sealed" CHECK ("secret_sealed" LIKE 'lwk1.%'),
	CONSTRAINT "scrub_settings_budget" CHECK ("monthly_budget" IS NULL OR "monthly_budget" >= 0),
	CONSTRAINT "scrub_settings_timeout" CHECK ("timeout_ms" BETWEEN 50 AND 5000),
	CONSTRAINT "scrub_settings_threshold" CHECK ("failure_threshold" BETWEEN 1 AND 100),
	CONSTRAINT "scrub_settings_cooldown" CHECK ("cooldown_ms" BETWEEN 1000 AND 3600000),
	CONSTRAINT "scrub_settings_litigator_rule" CHECK ("litigator_rule" IN ('refuse', 'review'))
);
--> statement-breakpoint
-- Calls made per agency, scrub and UTC month (`YYYY-MM`): reserved one at a time below the budget.
CREATE TABLE "scrub_usage" (
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"scrub" text NOT NULL,
	"month" text NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "scrub_usage_pk" PRIMARY KEY ("agency_id", "scrub", "month"),
	CONSTRAINT "scrub_usage_month" CHECK ("month" ~ '^\d{4}-\d{2}$'),
	CONSTRAINT "scrub_usage_calls" CHECK ("calls" >= 0)
);
--> statement-breakpoint
-- One answer per scrub, number and UTC day, shared by every process: the number only as the agency's keyed HMAC
-- (db/suppression.ts's hasher), never in clear. A row without a verdict is a call in flight.
CREATE TABLE "scrub_cache" (
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"scrub" text NOT NULL,
	"hmac" bytea NOT NULL,
	"day" date NOT NULL,
	"verdict" text,
	"status" text,
	"claimed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "scrub_cache_pk" PRIMARY KEY ("agency_id", "scrub", "hmac", "day"),
	CONSTRAINT "scrub_cache_verdict" CHECK ("verdict" IS NULL OR "verdict" IN ('hit', 'clean', 'unknown')),
	CONSTRAINT "scrub_cache_hmac_shape" CHECK (octet_length("hmac") = 32)
);
--> statement-breakpoint
CREATE INDEX "scrub_cache_day_idx" ON "scrub_cache" ("day");
