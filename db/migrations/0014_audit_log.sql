-- One audit log (#20 item 8): every change an agency or a buyer makes, with
-- its actor (the root token, a person's session, or a key and the person who
-- made it; a display label is kept as it was at the time), the object (type +
-- id), the action, and before → after of the changed fields only (secrets
-- redacted by the code). `side` is who acted in the older, coarser sense the
-- buyer change history used: admin | buyer | system.
-- The buyer change history (buyer_changes, 0002) grows into it: its rows are
-- copied with their time and actor side (actor_type 'unrecorded': no person
-- or key was kept then), and the table goes.
CREATE TABLE "audit_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agency_id" uuid NOT NULL REFERENCES "agencies"("id"),
	-- set when the change is a buyer's or about one
	"buyer_id" uuid REFERENCES "buyers"("id"),
	-- root | user | key | system | unrecorded
	"actor_type" text NOT NULL,
	"actor_user_id" uuid,
	"actor_key_id" uuid,
	"actor_session_id" uuid,
	-- who it was, as shown then ("Ana Ruiz <ana@example.com>", "key Dispatch bot (by …)")
	"actor_label" text NOT NULL,
	-- admin | buyer | system
	"side" text NOT NULL,
	"object_type" text NOT NULL,
	"object_id" uuid NOT NULL,
	"action" text NOT NULL,
	"changes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_log_actor_shape" CHECK (
		("actor_type" = 'user' AND "actor_user_id" IS NOT NULL AND "actor_key_id" IS NULL)
		OR ("actor_type" = 'key' AND "actor_key_id" IS NOT NULL)
		OR ("actor_type" IN ('root', 'system', 'unrecorded') AND "actor_user_id" IS NULL AND "actor_key_id" IS NULL)
	),
	CONSTRAINT "audit_log_side" CHECK ("side" IN ('admin', 'buyer', 'system'))
);
--> statement-breakpoint
CREATE INDEX "audit_log_agency_idx" ON "audit_log" ("agency_id", "created_at", "id");
--> statement-breakpoint
CREATE INDEX "audit_log_object_idx" ON "audit_log" ("object_type", "object_id", "created_at");
--> statement-breakpoint
CREATE INDEX "audit_log_buyer_idx" ON "audit_log" ("buyer_id", "created_at") WHERE "buyer_id" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "audit_log_actor_user_idx" ON "audit_log" ("actor_user_id", "created_at") WHERE "actor_user_id" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "audit_log_actor_key_idx" ON "audit_log" ("actor_key_id", "created_at") WHERE "actor_key_id" IS NOT NULL;
--> statement-breakpoint
INSERT INTO "audit_log" ("id", "agency_id", "buyer_id", "actor_type", "actor_label", "side", "object_type", "object_id", "action", "changes", "note", "created_at")
SELECT "id", "agency_id", "buyer_id",
	CASE WHEN "actor" = 'system' THEN 'system' ELSE 'unrecorded' END,
	CASE "actor" WHEN 'system' THEN 'the system' WHEN 'buyer' THEN 'the buyer (before people were recorded)' ELSE 'an agency admin (before people were recorded)' END,
	"actor", 'buyer', "buyer_id",
	CASE WHEN "changes" ? 'webhookSecret' THEN 'webhook_secret_rotated' ELSE 'updated' END,
	"changes", "note", "created_at"
FROM "buyer_changes";
--> statement-breakpoint
DROP TABLE "buyer_changes";
