-- #27.6: a rebuild of the report roll-ups must not stop the market. The
-- rebuild of 0007 locked both facts tables (shared by every agency) in
-- EXCLUSIVE mode for its whole length, about 18 s per million leads: one
-- agency's time-zone change stalled every agency's sales. It is now per
-- agency, with no table lock, made of the trigger path itself:
--
-- 1. report_rebuild_seed(agency): a zero facts row for each of the agency's
--    leads that has none (rows written with the triggers off: the bench seed,
--    data older than 0007). A zero row contributes nothing.
-- 2. report_rebuild_batch(agency, after, n): the next n of the agency's leads
--    (facts in lead order) go through report_refresh(), the function the
--    triggers run at a sale's commit: each lead's facts row is locked, its
--    facts recomputed from the base tables (in the agency's current zone) and
--    the difference appended to the deltas. A sale of one of these leads waits
--    for this batch only; every other lead, of this agency or any other, is
--    never touched. Each lead is counted exactly once: the refresh and a
--    sale's trigger serialize on the lead's row and each appends only the
--    difference from what the other stored.
-- 3. report_reconcile(agency): under the fold lock (folds only; sales never
--    take it), one statement compares the agency's roll-ups plus pending
--    deltas with the sum of its facts and appends the difference as a delta
--    (zero unless a roll-up was lost or written by hand), folds, and drops the
--    agency's all-zero roll-up rows (days a lead only passed through). One
--    statement sees one snapshot, and a sale's facts and deltas commit
--    together, so a sale committing meanwhile is in both sums or in neither.
--
-- report_rebuild(agency) runs the three in one transaction: the time-zone
-- trigger (the agency's day keys move at the zone change's commit; the
-- agency's own leads wait for that commit lead by lead, other agencies never
-- wait). rebuildReports() in db/reports.ts runs them as short transactions,
-- a batch each: online for the agency's own sales too.
DROP INDEX IF EXISTS "report_lead_facts_agency_idx";
--> statement-breakpoint
-- The batches walk an agency's facts in lead order.
CREATE INDEX "report_lead_facts_agency_idx" ON "report_lead_facts" ("agency_id", "lead_id");
--> statement-breakpoint
CREATE OR REPLACE FUNCTION report_rebuild_seed(agency uuid) RETURNS void AS $$
  INSERT INTO report_lead_facts (lead_id, agency_id, day, campaign_id, source_id)
  SELECT l.id, l.agency_id, (l.created_at AT TIME ZONE ag.time_zone)::date, l.campaign_id, l.source_id
    FROM leads l JOIN agencies ag ON ag.id = l.agency_id
   WHERE l.agency_id = agency
  ON CONFLICT (lead_id) DO NOTHING;
$$ LANGUAGE sql;
--> statement-breakpoint
-- Refreshes the agency's next n leads after `after` (null: from the first);
-- returns the last lead refreshed, null when there was none left.
CREATE OR REPLACE FUNCTION report_rebuild_batch(agency uuid, after uuid, n integer) RETURNS uuid AS $$
DECLARE
  ids uuid[];
BEGIN
  -- Two statements, not `after IS NULL OR lead_id > after`: each batch must be a range of the index, or a
  -- rebuild of a million leads would read them all a thousand times.
  IF after IS NULL THEN
    ids := ARRAY(SELECT f.lead_id FROM report_lead_facts f WHERE f.agency_id = agency ORDER BY f.lead_id LIMIT n);
  ELSE
    ids := ARRAY(SELECT f.lead_id FROM report_lead_facts f
                  WHERE f.agency_id = agency AND f.lead_id > after ORDER BY f.lead_id LIMIT n);
  END IF;
  IF cardinality(ids) = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM report_refresh(ids);
  RETURN ids[cardinality(ids)];
END;
$$ LANGUAGE plpgsql SET jit = off;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION report_reconcile(agency uuid) RETURNS void AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(872364513); -- the fold's: no fold between the comparison and this one
  INSERT INTO report_lead_deltas (agency_id, day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales)
  SELECT agency, day, campaign_id, source_id, sum(leads), sum(offered), sum(sold), sum(unsold), sum(returned),
         sum(revenue), sum(payouts), sum(claim_secs), sum(sales)
    FROM (SELECT day, campaign_id, source_id, leads, offered, sold, unsold, returned, revenue, payouts, claim_secs, sales
            FROM report_lead_facts WHERE agency_id = agency
          UNION ALL
          SELECT day, campaign_id, source_id, -leads, -offered, -sold, -unsold, -returned, -revenue, -payouts, -claim_secs, -sales
            FROM report_lead_days WHERE agency_id = agency
          UNION ALL
          SELECT day, campaign_id, source_id, -leads, -offered, -sold, -unsold, -returned, -revenue, -payouts, -claim_secs, -sales
            FROM report_lead_deltas WHERE agency_id = agency) d
   GROUP BY day, campaign_id, source_id
  HAVING sum(leads) <> 0 OR sum(offered) <> 0 OR sum(sold) <> 0 OR sum(unsold) <> 0 OR sum(returned) <> 0
      OR sum(revenue) <> 0 OR sum(payouts) <> 0 OR sum(claim_secs) <> 0 OR sum(sales) <> 0;
  INSERT INTO report_buyer_deltas (agency_id, day, buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries)
  SELECT agency, day, buyer_id, sum(offered), sum(sold), sum(returned), sum(revenue), sum(payouts), sum(claim_secs), sum(sales), sum(entries)
    FROM (SELECT day, buyer_id, offered, sold, returned, revenue, payouts, claim_secs, sales, entries
            FROM report_buyer_facts WHERE agency_id = agency
          UNION ALL
          SELECT day, buyer_id, -offered, -sold, -returned, -revenue, -payouts, -claim_secs, -sales, -entries
            FROM report_buyer_days WHERE agency_id = agency
          UNION ALL
          SELECT day, buyer_id, -offered, -sold, -returned, -revenue, -payouts, -claim_secs, -sales, -entries
            FROM report_buyer_deltas WHERE agency_id = agency) d
   GROUP BY day, buyer_id
  HAVING sum(offered) <> 0 OR sum(sold) <> 0 OR sum(returned) <> 0 OR sum(revenue) <> 0 OR sum(payouts) <> 0
      OR sum(claim_secs) <> 0 OR sum(sales) <> 0 OR sum(entries) <> 0;
  PERFORM report_fold(); -- the advisory lock is this transaction's already
  DELETE FROM report_lead_days
   WHERE agency_id = agency AND leads = 0 AND offered = 0 AND sold = 0 AND unsold = 0 AND returned = 0
     AND revenue = 0 AND payouts = 0 AND claim_secs = 0 AND sales = 0;
  DELETE FROM report_buyer_days
   WHERE agency_id = agency AND offered = 0 AND sold = 0 AND returned = 0 AND revenue = 0 AND payouts = 0
     AND claim_secs = 0 AND sales = 0 AND entries = 0;
END;
$$ LANGUAGE plpgsql SET jit = off;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION report_rebuild(agency uuid) RETURNS void AS $$
DECLARE
  last uuid;
BEGIN
  PERFORM report_rebuild_seed(agency);
  last := report_rebuild_batch(agency, NULL, 1000);
  WHILE last IS NOT NULL LOOP
    last := report_rebuild_batch(agency, last, 1000);
  END LOOP;
  PERFORM report_reconcile(agency);
END;
$$ LANGUAGE plpgsql SET jit = off;
