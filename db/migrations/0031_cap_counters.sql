-- Sales counters per cap period (#26 item 1): eligibility reads a row instead
-- of counting a month of assignments.
--
-- cap_counters: one row per subject (a buyer, or a campaign: its own sales
-- across buyers), cap period (daily, weekly, monthly) and the instant the
-- period began in the agency's zone (domain/caps.ts periodStart, the one
-- definition of the boundaries, computed by the application: luxon's DST
-- rules, not Postgres's). `sales` is the number of active assignments created
-- in that period. The sale's transaction adds one with an UPSERT on the
-- primary key (db/cap-counters.ts countSale, so concurrent sales never lose an
-- increment); a return that refunds the sale takes it back (uncountSale).
--
-- Rows are small (uuid, period, instant, int) and are kept: eligibility only
-- ever reads the current periods' rows (three primary-key lookups per subject),
-- older rows are history the audit checks against a recount.
CREATE TABLE "cap_counters" (
	"subject_id" uuid NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"sales" integer NOT NULL,
	"period" text NOT NULL,
	CONSTRAINT "cap_counters_pk" PRIMARY KEY ("subject_id", "period", "period_start"),
	CONSTRAINT "cap_counters_period" CHECK ("period" IN ('daily', 'weekly', 'monthly')),
	CONSTRAINT "cap_counters_sales" CHECK ("sales" >= 0)
);
--> statement-breakpoint
-- The backfill of a database upgraded with sales already in it: period
-- boundaries are the application's, so the migration only asks for it; the
-- first migrate that applies this file runs it in TypeScript right after
-- (db/connection.ts migrateDatabase → db/cap-counters.ts backfillCapCounters),
-- fills cap_counters from the active assignments and deletes this row, in one
-- transaction, before any process serves a sale.
CREATE TABLE "cap_counters_backfill" (
	"pending" boolean PRIMARY KEY NOT NULL
);
--> statement-breakpoint
INSERT INTO "cap_counters_backfill" ("pending") VALUES (true);
