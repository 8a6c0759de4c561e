-- #22 item 4: a buyer endpoint's optional status query. A post sent but unanswered (`unknown`) is asked about at
-- `status_url` (GET or POST, `status_template` over the post's idempotency key, lead id and ping id; without a
-- template, GET sends `?idempotency_key=<key>`) and the answer is read by `status_rules` (the post rules' shape):
-- accepted or rejected resolves the post, anything else leaves it unknown. The URL and the rules come together.
ALTER TABLE "buyer_endpoints" ADD COLUMN "status_url" text;--> statement-breakpoint
ALTER TABLE "buyer_endpoints" ADD COLUMN "status_method" text DEFAULT 'GET' NOT NULL;--> statement-breakpoint
ALTER TABLE "buyer_endpoints" ADD COLUMN "status_template" jsonb;--> statement-breakpoint
ALTER TABLE "buyer_endpoints" ADD COLUMN "status_rules" jsonb;--> statement-breakpoint
ALTER TABLE "buyer_endpoints" ADD CONSTRAINT "buyer_endpoints_status_method" CHECK ("status_method" IN ('GET', 'POST'));--> statement-breakpoint
ALTER TABLE "buyer_endpoints" ADD CONSTRAINT "buyer_endpoints_status_parts" CHECK (("status_url" IS NULL) = ("status_rules" IS NULL) AND ("status_template" IS NULL OR "status_url" IS NOT NULL));--> statement-breakpoint
-- The status query's calls are logged as the post's (kind `post`) with step `status` and the post's key; the facts
-- trigger copies them (as it copies every step), so the sale's proof of an accepted post (db/endpoints.ts
-- acceptedPostAt) reads an accepted status answer under the sale's key as well as an accepted post. A status answer
-- is not a post: the endpoint report counts posts from step `post` only (db/reports.ts).
ALTER TABLE "endpoint_calls" DROP CONSTRAINT "endpoint_calls_step";--> statement-breakpoint
ALTER TABLE "endpoint_calls" ADD CONSTRAINT "endpoint_calls_step" CHECK ("step" IN ('ping', 'post', 'status'));--> statement-breakpoint
ALTER TABLE "endpoint_call_facts" DROP CONSTRAINT "endpoint_call_facts_step";--> statement-breakpoint
ALTER TABLE "endpoint_call_facts" ADD CONSTRAINT "endpoint_call_facts_step" CHECK ("step" IN ('ping', 'post', 'status'));
