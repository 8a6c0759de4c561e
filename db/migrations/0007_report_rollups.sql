-- Report roll-ups (#13: a report over a million leads under a second). The
-- reports' figures, pre-aggregated per agency and local day, kept by the
-- database in the same transactions as the writes, so a report agrees with
-- the ledgers to the credit at every commit.
--
-- Three layers:
-- - report_lead_facts / report_buyer_facts: each lead's current contribution
--   (one row per lead; one per lead and buyer). When a transaction changed a
--   lead's rows, a trigger recomputes at its commit that lead's facts from the
--   base tables (index lookups), stores them and appends the difference to
--   the deltas. The lead's facts row is locked first, which also serializes
--   two transactions changing one lead (two buyers of a shared offer).
-- - report_lead_deltas / report_buyer_deltas: append-only. A sale only
--   INSERTs here, never UPDATEs a shared roll-up row, so concurrent sales of
--   one campaign and day do not queue on one row lock (nor deadlock on two).
-- - report_lead_days / report_buyer_days: the roll-ups, by agency, local day
--   (the lead's created_at in the agency's zone: a return a week later counts
--   on the lead's day) and campaign and source, or buyer. report_fold() moves
--   the deltas in; a report reads roll-up plus pending deltas, so it is exact
--   before a fold too.
--
-- The definitions are those of the reference query (runReportFromBase in
-- db/reports.ts): sold = at least one active assignment, unsold = no
-- assignment at all and manual_review or rejected, returned = refunded
-- assignments, revenue = -(charges + refunds), payouts = the source ledger,
-- offered = at least one offer; by buyer, offered = an eligible target of one
-- of the lead's offers, payouts = the source entries of its assignments.
CREATE TABLE "report_lead_facts" (
	"lead_id" uuid PRIMARY KEY NOT NULL,
	"agency_id" uuid NOT NULL,
	"day" date NOT NULL,
	"campaign_id" uuid NOT NULL,
	"source_id" uuid,
	"leads" integer DEFAULT 0 NOT NULL,
	"offered" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"unsold" integer DEFAULT 0 NOT NULL,
	"returned" integer DEFAULT 0 NOT NULL,
	"revenue" bigint DEFAULT 0 NOT NULL,
	"payouts" bigint DEFAULT 0 NOT NULL,
	"claim_secs" numeric DEFAULT 0 NOT NULL,
	"sales" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "report_lead_facts_agency_idx" ON "report_lead_facts" ("agency_id");
--> statement-breakpoint
CREATE TABLE "report_buyer_facts" (
	"lead_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"agency_id" uuid NOT NULL,
	"day" date NOT NULL,
	"offered" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"returned" integer DEFAULT 0 NOT NULL,
	"revenue" bigint DEFAULT 0 NOT NULL,
	"payouts" bigint DEFAULT 0 NOT NULL,
	"claim_secs" numeric DEFAULT 0 NOT NULL,
	"sales" integer DEFAULT 0 NOT NULL,
	-- Charges and refunds: a buyer with only ledger entries on the range is still a row of the report.
	"entries" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "report_buyer_facts_pk" PRIMARY KEY ("lead_id", "buyer_id")
);
--> statement-breakpoint
CREATE INDEX "report_buyer_facts_agency_idx" ON "report_buyer_facts" ("agency_id");
--> statement-breakpoint
CREATE TABLE "report_lead_days" (
	"agency_id" uuid NOT NULL,
	"day" date NOT NULL,
	"campaign_id" uuid NOT NULL,
	"source_id" uuid,
	"leads" integer DEFAULT 0 NOT NULL,
	"offered" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"unsold" integer DEFAULT 0 NOT NULL,
	"returned" integer DEFAULT 0 NOT NULL,
	"revenue" bigint DEFAULT 0 NOT NULL,
	"payouts" bigint DEFAULT 0 NOT NULL,
	"claim_secs" numeric DEFAULT 0 NOT NULL,
	"sales" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
-- Null source: the agency's own leads, one row per day and campaign like any source.
CREATE UNIQUE INDEX "report_lead_days_key" ON "report_lead_days" ("agency_id", "day", "campaign_id", "source_id") NULLS NOT DISTINCT;
--> statement-breakpoint
CREATE TABLE "report_buyer_days" (
	"agency_id" uuid NOT NULL,
	"day" date NOT NULL,
	"buyer_id" uuid NOT NULL,
	"offered" integer DEFAULT 0 NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"returned" integer DEFAULT 0 NOT NULL,
	"revenue" bigint DEFAULT 0 NOT NULL,
	"payouts" bigint DEFAULT 0 NOT NULL,
	"claim_secs" numeric DEFAULT 0 NOT NULL,
	"sales" integer DEFAULT 0 NOT NULL,
	"entries" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "report_buyer_days_pk" PRIMARY KEY ("agency_id", "day", "buyer_id")
);
--> statement-breakpoint
-- The deltas have the roll-ups' columns and no key: many rows per group until the next fold.
CREATE TABLE "report_lead_deltas" (LIKE "report_lead_days" INCLUDING DEFAULTS);
--> statement-breakpoint
CREATE INDEX "report_lead_deltas_agency_idx" ON "report_lead_deltas" ("agency_id", "day");
--> statement-breakpoint
CREATE TABLE "report_buyer_deltas" (LIKE "report_buyer_days" INCLUDING DEFAULTS);
--> statement-breakpoint
CREATE INDEX "report_buyer_deltas_agency_idx" ON "report_buyer_deltas" ("agency_id", "day");
--> statement-breakpoint
-- The facts of a few leads, by index lookups per lead (the triggers' path).
CREATE OR REPLACE FUNCTION report_lead_facts_for(ids uuid[]) RETURNS SETOF report_lead_facts AS $$
  SELECT l.id, l.agency_id, (l.created_at AT TIME ZONE ag.time_zone)::date, l.campaign_id, l.source_id,
         1,
         -- LIMIT 1: a probe of offers_lead_idx per lead, never a hashed scan of all offers.
         ((SELECT 1 FROM offers o WHERE o.lead_id = l.id LIMIT 1) IS NOT NULL)::int,
         (a.active > 0)::int,
         (a.sales = 0 AND l.status IN ('manual_review', 'rejected'))::int,
         a.refunded::int,
         coalesce((SELECT -sum(e.amount) FROM ledger_entries e WHERE e.lead_id = l.id AND e.kind IN ('charge', 'refund')), 0)::bigint,
         coalesce((SELECT sum(e.amount) FROM source_ledger_entries e WHERE e.lead_id = l.id), 0)::bigint,
         coalesce(a.claim_secs, 0),
         a.sales::int
    FROM leads l
    JOIN agencies ag ON ag.id = l.agency_id
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE a.status = 'active') AS active,
             count(*) FILTER (WHERE a.status = 'refunded') AS refunded,
             sum(extract(epoch FROM a.created_at - o.opened_at)) AS claim_secs,
             count(*) AS sales
        FROM assignments a JOIN offers o ON o.id = a.offer_id
       WHERE a.lead_id = l.id) a
   WHERE l.id = ANY (ids)
$$ LANGUAGE sql STABLE;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION report_buyer_facts_for(ids uuid[]) RETURNS SETOF report_buyer_facts AS $$
  SELECT l.id, x.buyer_id, l.agency_id, (l.created_at AT TIME ZONE ag.time_zone)::date,
         max(x.offered)::int, sum(x.sold)::int, sum(x.returned)::int, sum(x.revenue)::bigint, sum(x.payouts)::bigint,
         sum(x.claim_secs), sum(x.sales)::int, sum(x.entries)::int
    FROM leads l
    JOIN agencies ag ON ag.id = l.agency_id
    CROSS JOIN LATERAL (
      -- Per offer, its targets by their key (offer_id, buyer_id): OFFSET 0 keeps the planner from flattening this
      -- into a hash join over every target (its choice on a young table, which a cached generic plan would keep).
      SELECT t.buyer_id, 1 AS offered, 0 AS sold, 0 AS returned, 0 AS revenue, 0 AS payouts, 0::numeric AS claim_secs, 0 AS sales, 0 AS entries
        FROM offers o CROSS JOIN LATERAL (SELECT t.buyer_id FROM offer_targets t WHERE t.offer_id = o.id AND t.eligible OFFSET 0) t
       WHERE o.lead_id = l.id
      UNION ALL
      SELECT a.buyer_id, 0, (a.status = 'active')::int, (a.status = 'refunded')::int, 0, 0, extract(epoch FROM a.created_at - o.opened_at), 1, 0
        FROM assignments a JOIN offers o ON o.id = a.offer_id
       WHERE a.lead_id = l.id
      UNION ALL
      SELECT e.buyer_id, 0, 0, 0, -e.amount, 0, 0, 0, 1
        FROM ledger_entries e
       WHERE e.lead_id = l.id AND e.kind IN ('charge', 'refund')
      UNION ALL
      SELECT a.buyer_id, 0, 0, 0, 0, e.amount, 0, 0, 0
        FROM source_ledger_entries e JOIN assignments a ON a.id = e.assignment_id
       WHERE e.lead_id = l.id) x
   WHERE l.id = ANY (ids)
   GROUP BY l.id, x.buyer_id, l.agency_id, l.created_at, ag.time_zone
$$ LANGUAGE sql STABLE;
--> statement-breakpoint
-- The facts of a whole agency, set-based (hash joins like the reference query): the rebuild and the audit.
CREATE OR REPLACE FUNCTION report_lead_facts_of_agency(agency uuid) RETURNS SETOF report_lead_facts AS $$
  WITH l AS (
    SELECT l.id, l.agency_id, (l.created_at AT TIME ZONE ag.time_zone)::date AS day, l.campaign_id, l.source_id, l.status
      FROM leads l JOIN agencies ag ON ag.id = l.agency_id
     WHERE l.agency_id = agency
  ),
  a AS (
    SELECT a.lead_id,
           count(*) FILTER (WHERE a.status = 'active') AS active,
           count(*) FILTER (WHERE a.status = 'refunded') AS refunded,
           sum(extract(epoch FROM a.created_at - o.opened_at)) AS claim_secs,
           count(*) AS sales
      FROM assignments a JOIN l ON l.id = a.lead_id JOIN offers o ON o.id = a.offer_id
     GROUP BY a.lead_id
  ),
  r AS (
    SELECT e.lead_id, -sum(e.amount) AS revenue
      FROM ledger_entries e JOIN l ON l.id = e.lead_id
     WHERE e.kind IN ('charge', 'refund')
     GROUP BY e.lead_id
  ),
  s AS (
    SELECT e.lead_id, sum(e.amount) AS payouts
      FROM source_ledger_entries e JOIN l ON l.id = e.lead_id
     GROUP BY e.lead_id
  ),
  o AS (SELECT DISTINCT o.lead_id FROM offers o JOIN l ON l.id = o.lead_id)
  SELECT l.id, l.agency_id, l.day, l.campaign_id, l.source_id,
         1,
         (o.lead_id IS NOT NULL)::int,
         (coalesce(a.active, 0) > 0)::int,
         (coalesce(a.sales, 0) = 0 AND l.status IN ('manual_review', 'rejected'))::int,
         coalesce(a.refunded, 0)::int,
         coalesce(r.revenue, 0)::bigint,
         coalesce(s.payouts, 0)::bigint,
         coalesce(a.claim_secs, 0),
         coalesce(a.sales, 0)::int
    FROM l
    LEFT JOIN a ON a.lead_id = l.id
    LEFT JOIN r ON r.lead_id = l.id
    LEFT JOIN s ON s.lead_id = l.id
    LEFT JOIN o ON o.lead_id = l.id
$$ LANGUAGE sql STABLE;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION report_buyer_facts_of_agency(agency uuid) RETURNS SETOF report_buyer_facts AS $$
  WITH l AS (
    SELECT l.id, l.agency_id, (l.created_at AT TIME ZONE ag.time_zone)::date AS day
      FROM leads l JOIN agencies ag ON ag.id = l.agency_id
     WHERE l.agency_id = agency
  ),
  x AS (
    SELECT o.lead_id, t.buyer_id, 1 AS offered, 0 AS sold, 0 AS returned, 0 AS revenue, 0 AS payouts, 0::numeric AS claim_secs, 0 AS sales, 0 AS entries
      FROM offer_targets t JOIN offers o ON o.id = t.offer_id JOIN l ON l.id = o.lead_id
     WHERE t.eligible
    UNION ALL
    SELECT a.lead_id, a.buyer_id, 0, (a.status = 'active')::int, (a.status = 'refunded')::int, 0, 0, extract(epoch FROM a.created_at - o.opened_at), 1, 0
      FROM assignments a JOIN l ON l.id = a.lead_id JOIN offers o ON o.id = a.offer_id
    UNION ALL
    SELECT e.lead_id, e.buyer_id, 0, 0, 0, -e.amount, 0, 0, 0, 1
      FROM ledger_entries e JOIN l ON l.id = e.lead_id
     WHERE e.kind IN ('charge', 'refund')
    UNION ALL
    SELECT e.lead_id, a.buyer_id, 0, 0, 0, 0, e.amount, 0, 0, 0
      FROM source_ledger_entries e JOIN assignments a ON a.id = e.assignment_id JOIN l ON l.id = e.lead_id
  )
  SELECT x.lead_id, x.buyer_id, l.agency_id, l.day,
         max(x.offered)::int, sum(x.sold)::int, sum(x.returned)::int, sum(x.revenue)::bigint, sum(x.payouts)::bigint,
         sum(x.claim_secs), sum(x.sales)::int, sum(x.entries)::int
    FROM x JOIN l ON l.id = x.lead_id
   GROUP BY x.lead_id, x.buyer_id, l.agency_id, l.day
$$ LANGUAGE sql STABLE;
--> statement-breakpoint
-- Recomputes these leads' facts, stores them and appends the difference to
-- the deltas. Idempotent: a second call for the same state appends nothing,
-- so a statement touching a lead twice, or two triggers of one sale, are
-- counted once.
CREATE OR REPLACE FUNCTION report_refresh(ids uuid[]) RETURNS void AS $$
BEGIN
  IF coalesce(cardinality(ids), 0) = 0 THEN
    RETURN;
  END IF;
  -- A facts row for every lead (a zero one for a new lead: it contributes
  -- nothing yet), then their locks in lead order: a transaction changing a
  -- lead waits here for another one changing it, and recomputes after it.
  INSERT INTO report_lead_facts (lead_id, agency_id, day, campaign_id, source_id)
    SELECT l.id, l.agency_id, (l.created_at AT TIME ZONE ag.time_zone)::date, l.campaign_id, l.source_id
      FROM leads l JOIN agencies ag ON ag.id = l.agency_id
     WHERE l.id = ANY (ids)
    ON CONFLICT (lead_id) DO NOTHING;
  PERFORM 1 FROM report_lead_facts WHERE lead_id = ANY (ids) ORDER BY lead_id FOR UPDATE;

  -- One statement: `stale` reads the facts as they were before `upd` and `gone` change them.
  WITH fresh AS (SELECT * FROM report_lead_facts_for(ids)),
  stale AS (SELECT * FROM report_lead_facts WHERE lead_id = ANY (ids)),
  upd AS (
    UPDATE report_lead_facts f
       SET agency_id = n.agency_id, day = n.day, campaign_id = n.campaign_id, source_id = n.source_id, leads = n.leads,
           offered = n.offered, sold = n.sold, unsold = n.unsold, returned = n.returned, revenue = n.revenue,
           payouts = n.payouts, claim_secs = n.claim_secs, sales = n.sales
      FROM fresh n
     WHERE f.lead_id = ANY (ids) AND f.lead_id = n.lead_id AND ROW(f.*) IS DISTINCT FROM ROW(n.*)
  ),
  gone AS (
    DELETE FROM report_lead_facts f
     WHERE f.lead_id = ANY (ids) AND NOT EXISTS (SELECT 1 FROM fresh n WHERE n.lead_id = f.lead_id)
  )
  INSERT INTO report_lead_deltas (agency_id, day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales)
  SELECT agency_id, day, campaign_id, source_id, sum(leads), sum(offered), sum(sold), sum(unsold), sum(returned),
         sum(revenue), sum(payouts), sum(claim_secs), sum(sales)
    FROM (SELECT agency_id, day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales FROM fresh
          UNION ALL
          SELECT agency_id, day, campaign_id, source_id, -leads, -offered, -sold, -unsold, -returned, -revenue, -payouts, -claim_secs, -sales FROM stale) d
   GROUP BY agency_id, day, campaign_id, source_id
  HAVING sum(leads) <> 0 OR sum(offered) <> 0 OR sum(sold) <> 0 OR sum(unsold) <> 0 OR sum(returned) <> 0
      OR sum(revenue) <> 0 OR sum(payouts) <> 0 OR sum(claim_secs) <> 0 OR sum(sales) <> 0;

  -- The buyers' facts of these leads, under the same lead locks; only changed rows are written.
  WITH fresh AS (SELECT * FROM report_buyer_facts_for(ids)),
  stale AS (SELECT * FROM report_buyer_facts WHERE lead_id = ANY (ids)),
  put AS (
    INSERT INTO report_buyer_facts
    SELECT n.* FROM fresh n
     WHERE NOT EXISTS (SELECT 1 FROM stale s WHERE s.lead_id = n.lead_id AND s.buyer_id = n.buyer_id AND ROW(s.*) IS NOT DISTINCT FROM ROW(n.*))
    ON CONFLICT (lead_id, buyer_id) DO UPDATE
       SET agency_id = EXCLUDED.agency_id, day = EXCLUDED.day, offered = EXCLUDED.offered, sold = EXCLUDED.sold,
           returned = EXCLUDED.returned, revenue = EXCLUDED.revenue, payouts = EXCLUDED.payouts,
           claim_secs = EXCLUDED.claim_secs, sales = EXCLUDED.sales, entries = EXCLUDED.entries
  ),
  gone AS (
    DELETE FROM report_buyer_facts f
     WHERE f.lead_id = ANY (ids) AND NOT EXISTS (SELECT 1 FROM fresh n WHERE n.lead_id = f.lead_id AND n.buyer_id = f.buyer_id)
  )
  INSERT INTO report_buyer_deltas (agency_id, day, buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries)
  SELECT agency_id, day, buyer_id, sum(offered), sum(sold), sum(returned), sum(revenue), sum(payouts), sum(claim_secs), sum(sales), sum(entries)
    FROM (SELECT agency_id, day, buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries FROM fresh
          UNION ALL
          SELECT agency_id, day, buyer_id, -offered, -sold, -returned, -revenue, -payouts, -claim_secs, -sales, -entries FROM stale) d
   GROUP BY agency_id, day, buyer_id
  HAVING sum(offered) <> 0 OR sum(sold) <> 0 OR sum(returned) <> 0 OR sum(revenue) <> 0 OR sum(payouts) <> 0
      OR sum(claim_secs) <> 0 OR sum(sales) <> 0 OR sum(entries) <> 0;
END;
-- Generic plans: planned once per connection. Custom plans (the default for
-- the first calls, and for good when the planner rates them cheaper) planned
-- these statements on every sale: two thirds of the refresh's time.
$$ LANGUAGE plpgsql SET jit = off SET plan_cache_mode = force_generic_plan;
--> statement-breakpoint
-- Moves the committed deltas into the roll-ups: one fold at a time (another
-- caller returns null at once), each delta exactly once (DELETE … RETURNING
-- in the statement that adds it). Deltas of transactions still running are
-- not visible to it and wait for the next fold.
CREATE OR REPLACE FUNCTION report_fold() RETURNS integer AS $$
DECLARE
  lead_groups integer;
  buyer_groups integer;
BEGIN
  IF NOT pg_try_advisory_xact_lock(872364513) THEN
    RETURN NULL;
  END IF;
  WITH d AS (DELETE FROM report_lead_deltas RETURNING *)
  INSERT INTO report_lead_days AS r (agency_id, day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales)
  SELECT agency_id, day, campaign_id, source_id, sum(leads), sum(offered), sum(sold), sum(unsold), sum(returned),
         sum(revenue), sum(payouts), sum(claim_secs), sum(sales)
    FROM d GROUP BY agency_id, day, campaign_id, source_id
  ON CONFLICT (agency_id, day, campaign_id, source_id) DO UPDATE
     SET leads = r.leads + EXCLUDED.leads, offered = r.offered + EXCLUDED.offered, sold = r.sold + EXCLUDED.sold,
         unsold = r.unsold + EXCLUDED.unsold, returned = r.returned + EXCLUDED.returned, revenue = r.revenue + EXCLUDED.revenue,
         payouts = r.payouts + EXCLUDED.payouts, claim_secs = r.claim_secs + EXCLUDED.claim_secs, sales = r.sales + EXCLUDED.sales;
  GET DIAGNOSTICS lead_groups = ROW_COUNT;
  WITH d AS (DELETE FROM report_buyer_deltas RETURNING *)
  INSERT INTO report_buyer_days AS r (agency_id, day, buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries)
  SELECT agency_id, day, buyer_id, sum(offered), sum(sold), sum(returned), sum(revenue), sum(payouts), sum(claim_secs), sum(sales), sum(entries)
    FROM d GROUP BY agency_id, day, buyer_id
  ON CONFLICT (agency_id, day, buyer_id) DO UPDATE
     SET offered = r.offered + EXCLUDED.offered, sold = r.sold + EXCLUDED.sold, returned = r.returned + EXCLUDED.returned,
         revenue = r.revenue + EXCLUDED.revenue, payouts = r.payouts + EXCLUDED.payouts, claim_secs = r.claim_secs + EXCLUDED.claim_secs,
         sales = r.sales + EXCLUDED.sales, entries = r.entries + EXCLUDED.entries;
  GET DIAGNOSTICS buyer_groups = ROW_COUNT;
  RETURN lead_groups + buyer_groups;
END;
$$ LANGUAGE plpgsql SET jit = off;
--> statement-breakpoint
-- Recomputes an agency's facts and roll-ups from the base tables, set-based:
-- the backfill below, the bench seed (written with the triggers off) and a
-- change of the agency's time zone (every day key moves). The table locks
-- make the agency's writers (and every other agency's: the facts tables are
-- shared) wait for it, so no sale is counted twice or not at all; reports go
-- on reading the previous roll-ups until it commits.
CREATE OR REPLACE FUNCTION report_rebuild(agency uuid) RETURNS void AS $$
BEGIN
  LOCK TABLE report_lead_facts, report_buyer_facts IN EXCLUSIVE MODE;
  PERFORM pg_advisory_xact_lock(872364513); -- no fold meanwhile
  DELETE FROM report_lead_deltas WHERE agency_id = agency;
  DELETE FROM report_buyer_deltas WHERE agency_id = agency;
  DELETE FROM report_lead_days WHERE agency_id = agency;
  DELETE FROM report_buyer_days WHERE agency_id = agency;
  DELETE FROM report_lead_facts WHERE agency_id = agency;
  DELETE FROM report_buyer_facts WHERE agency_id = agency;
  INSERT INTO report_lead_facts SELECT * FROM report_lead_facts_of_agency(agency);
  INSERT INTO report_buyer_facts SELECT * FROM report_buyer_facts_of_agency(agency);
  INSERT INTO report_lead_days (agency_id, day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales)
  SELECT agency_id, day, campaign_id, source_id, sum(leads), sum(offered), sum(sold), sum(unsold), sum(returned),
         sum(revenue), sum(payouts), sum(claim_secs), sum(sales)
    FROM report_lead_facts WHERE agency_id = agency
   GROUP BY agency_id, day, campaign_id, source_id;
  INSERT INTO report_buyer_days (agency_id, day, buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries)
  SELECT agency_id, day, buyer_id, sum(offered), sum(sold), sum(returned), sum(revenue), sum(payouts), sum(claim_secs), sum(sales), sum(entries)
    FROM report_buyer_facts WHERE agency_id = agency
   GROUP BY agency_id, day, buyer_id;
END;
$$ LANGUAGE plpgsql SET jit = off;
--> statement-breakpoint
-- The triggers: deferred constraint triggers, so the refresh runs once at
-- commit, on the transaction's final state, instead of after each statement
-- of a sale (charge, assignment, payout, lead status: four refreshes of one
-- lead), and the lead's facts row is locked only from the commit's start. A
-- row's trigger refreshes its lead; the next rows' triggers skip the lead
-- just refreshed (every trigger of one commit sees the same final state, and
-- a sale's or an offer's rows are all one lead's), so a multi-row statement
-- is counted right and costs one refresh per lead. The mark carries the
-- statement's start: events fired by a later statement (after a SET
-- CONSTRAINTS … IMMEDIATE) are never taken for the same batch. UPDATE triggers fire only
-- when a column the reports read changed: a sale updates its offer's winners
-- and status, which must not cost a refresh.
CREATE OR REPLACE FUNCTION report_on_row() RETURNS trigger AS $$
DECLARE
  ids uuid[];
  last text := current_setting('leadwire.report_refreshed', true);
BEGIN
  IF TG_TABLE_NAME = 'leads' THEN
    ids := CASE TG_OP WHEN 'DELETE' THEN ARRAY[OLD.id] ELSE ARRAY[NEW.id] END;
  ELSIF TG_TABLE_NAME = 'offer_targets' THEN
    ids := ARRAY(SELECT o.lead_id FROM offers o
                  WHERE o.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.offer_id END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.offer_id END));
  ELSE
    ids := ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.lead_id END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.lead_id END];
  END IF;
  ids := ARRAY(SELECT DISTINCT x FROM unnest(ids) x WHERE x IS NOT NULL AND x::text || '@' || statement_timestamp() IS DISTINCT FROM last);
  IF cardinality(ids) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM report_refresh(ids);
  PERFORM set_config('leadwire.report_refreshed', ids[cardinality(ids)]::text || '@' || statement_timestamp(), true);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
-- Inserts of leads and of targets come in bulk (an import of 100,000 leads, an
-- offer to a thousand buyers): those refresh their leads set-based, in one
-- call at the statement's end, not one call per row at commit (a row trigger
-- cost ~3 ms a lead under load: minutes for an import). A new lead has no
-- offer, sale or entry yet, so its facts are its own columns; what a later
-- statement of the transaction adds to it fires the deferred triggers below.
CREATE OR REPLACE FUNCTION report_on_insert() RETURNS trigger AS $$
BEGIN
  IF TG_TABLE_NAME = 'leads' THEN
    PERFORM report_refresh(ARRAY(SELECT id FROM new_rows ORDER BY id));
  ELSE
    PERFORM report_refresh(ARRAY(SELECT DISTINCT o.lead_id FROM new_rows t JOIN offers o ON o.id = t.offer_id
                                  WHERE t.eligible ORDER BY o.lead_id));
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER report_leads_insert AFTER INSERT ON leads
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_on_insert();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_leads_delete AFTER DELETE ON leads
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_leads_update AFTER UPDATE ON leads
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((OLD.status IN ('manual_review', 'rejected')) IS DISTINCT FROM (NEW.status IN ('manual_review', 'rejected'))
     OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.agency_id IS DISTINCT FROM NEW.agency_id
     OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id OR OLD.source_id IS DISTINCT FROM NEW.source_id)
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_offers_insert AFTER INSERT ON offers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_offers_delete AFTER DELETE ON offers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_offers_update AFTER UPDATE ON offers
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.lead_id IS DISTINCT FROM NEW.lead_id OR OLD.opened_at IS DISTINCT FROM NEW.opened_at)
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_assignments_insert AFTER INSERT ON assignments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_assignments_delete AFTER DELETE ON assignments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_assignments_update AFTER UPDATE ON assignments
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.lead_id IS DISTINCT FROM NEW.lead_id OR OLD.offer_id IS DISTINCT FROM NEW.offer_id
     OR OLD.buyer_id IS DISTINCT FROM NEW.buyer_id OR OLD.created_at IS DISTINCT FROM NEW.created_at)
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
-- The ledgers are append-only (0001, 0006): inserts are all there is. Top-ups and settlements are in no report.
CREATE CONSTRAINT TRIGGER report_ledger_insert AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.lead_id IS NOT NULL AND NEW.kind IN ('charge', 'refund'))
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_source_ledger_insert AFTER INSERT ON source_ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.lead_id IS NOT NULL)
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
-- Targets name their offer; only eligible ones count.
CREATE TRIGGER report_targets_insert AFTER INSERT ON offer_targets
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_on_insert();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_targets_delete AFTER DELETE ON offer_targets
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.eligible)
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER report_targets_update AFTER UPDATE ON offer_targets
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.eligible IS DISTINCT FROM NEW.eligible OR OLD.offer_id IS DISTINCT FROM NEW.offer_id OR OLD.buyer_id IS DISTINCT FROM NEW.buyer_id)
  EXECUTE FUNCTION report_on_row();
--> statement-breakpoint
-- A new time zone moves every day key of the agency.
CREATE OR REPLACE FUNCTION report_on_agency_zone() RETURNS trigger AS $$
BEGIN
  PERFORM report_rebuild(NEW.id);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER report_agency_zone AFTER UPDATE OF time_zone ON agencies FOR EACH ROW
  WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
  EXECUTE FUNCTION report_on_agency_zone();
--> statement-breakpoint
-- The backfill: the data written before this migration.
SELECT report_rebuild(id) FROM agencies;
