-- #23: every change of the platform's Do-Not-Call lists (dnc_entries) is announced on `leadwire_dnc` when its
-- transaction commits, whoever made it (the registry upload, a script, an operator in psql): each API process's
-- Bloom filter of the lists (db/dnc-filter.ts) hears it, stops answering from the filter and rebuilds it.
-- One NOTIFY per statement (a bulk load writes thousands of rows per statement), never per row.
CREATE OR REPLACE FUNCTION dnc_entries_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('leadwire_dnc', lower(TG_OP));
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;--> statement-breakpoint
CREATE TRIGGER dnc_entries_changed AFTER INSERT OR UPDATE OR DELETE ON "dnc_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION dnc_entries_changed();--> statement-breakpoint
CREATE TRIGGER dnc_entries_truncated AFTER TRUNCATE ON "dnc_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION dnc_entries_changed();
