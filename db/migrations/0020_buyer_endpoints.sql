-- Buyer endpoints (#22, the foundation): a buyer's own system, pinged with the
-- lead's non-identifying fields and posted the full lead, through a request
-- template and response rules kept as data. The secret (a token, a basic
-- password or a Standard Webhooks key) is sealed by the key store like every
-- other secret at rest. One endpoint per buyer.
CREATE TABLE "buyer_endpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	"buyer_id" uuid NOT NULL REFERENCES "buyers"("id") ON DELETE CASCADE,
	"ping_url" text,
	"post_url" text NOT NULL,
	"method" text DEFAULT 'POST' NOT NULL,
	"format" text DEFAULT 'json' NOT NULL,
	"auth_kind" text DEFAULT 'none' NOT NULL,
	"auth_header" text,
	"auth_username" text,
	"secret_sealed" text,
	"timeout_ms" integer DEFAULT 1500 NOT NULL,
	"max_concurrent_pings" integer DEFAULT 10 NOT NULL,
	"ping_template" jsonb,
	"post_template" jsonb NOT NULL,
	"ping_rules" jsonb,
	"post_rules" jsonb NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"pause_reason" text,
	"paused_by" text,
	"paused_at" timestamp with time zone,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "buyer_endpoints_method" CHECK ("method" IN ('POST', 'PUT')),
	CONSTRAINT "buyer_endpoints_format" CHECK ("format" IN ('json', 'form')),
	CONSTRAINT "buyer_endpoints_auth_kind" CHECK ("auth_kind" IN ('none', 'header', 'basic', 'hmac')),
	CONSTRAINT "buyer_endpoints_secret_sealed" CHECK ("secret_sealed" IS NULL OR "secret_sealed" LIKE 'lwk1.%'),
	CONSTRAINT "buyer_endpoints_secret_needed" CHECK (("auth_kind" = 'none') = ("secret_sealed" IS NULL)),
	CONSTRAINT "buyer_endpoints_timeout" CHECK ("timeout_ms" BETWEEN 100 AND 10000),
	CONSTRAINT "buyer_endpoints_max_concurrent_pings" CHECK ("max_concurrent_pings" BETWEEN 1 AND 1000),
	CONSTRAINT "buyer_endpoints_ping_parts" CHECK (("ping_url" IS NULL) = ("ping_template" IS NULL) AND ("ping_url" IS NULL) = ("ping_rules" IS NULL)),
	CONSTRAINT "buyer_endpoints_status" CHECK ("status" IN ('active', 'paused')),
	CONSTRAINT "buyer_endpoints_failures" CHECK ("consecutive_failures" >= 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "buyer_endpoints_buyer_idx" ON "buyer_endpoints" USING btree ("buyer_id");
--> statement-breakpoint
-- The endpoint's log: every ping, post and test call with the request as sent
-- (secrets masked) and the answer (redacted, truncated); the last 100 per
-- endpoint are kept.
CREATE TABLE "endpoint_calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"endpoint_id" uuid NOT NULL REFERENCES "buyer_endpoints"("id") ON DELETE CASCADE,
	"lead_id" uuid,
	"kind" text NOT NULL,
	"step" text NOT NULL,
	"request" jsonb NOT NULL,
	"response" jsonb,
	"latency_ms" integer NOT NULL,
	"outcome" text NOT NULL,
	"bid" integer,
	"ping_id" text,
	"reason" text,
	"idempotency_key" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	CONSTRAINT "endpoint_calls_kind" CHECK ("kind" IN ('ping', 'post', 'test')),
	CONSTRAINT "endpoint_calls_step" CHECK ("step" IN ('ping', 'post')),
	CONSTRAINT "endpoint_calls_outcome" CHECK ("outcome" IN ('accepted', 'rejected', 'timeout', 'late', 'unknown', 'error', 'malformed', 'refused', 'busy')),
	CONSTRAINT "endpoint_calls_latency" CHECK ("latency_ms" >= 0)
);
--> statement-breakpoint
CREATE INDEX "endpoint_calls_endpoint_idx" ON "endpoint_calls" USING btree ("endpoint_id","created_at");
