-- Money invariants enforced by the database itself, so that a bug in the code
-- cannot break them.

-- Every ledger entry moves its wallet in the same statement: the balance always
-- equals the sum of the entries, and the wallet's CHECK (balance >= 0) refuses
-- an entry that would overdraw it (the whole insert fails, nothing is left).
--
-- Two triggers, because BEFORE INSERT triggers also run for a row that
-- ON CONFLICT DO NOTHING then skips: the BEFORE trigger only locks the wallet
-- and computes balance_after; the AFTER trigger, which runs only for rows
-- really inserted, moves the balance. The row lock serializes a wallet's
-- entries, so balance_after is exact under concurrency.
CREATE OR REPLACE FUNCTION ledger_lock_wallet() RETURNS trigger AS $$
DECLARE
  current_balance integer;
BEGIN
  SELECT balance INTO current_balance FROM wallets WHERE buyer_id = NEW.buyer_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no wallet for buyer %', NEW.buyer_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  NEW.balance_after := current_balance + NEW.amount;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER ledger_lock_wallet BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_lock_wallet();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION ledger_apply_entry() RETURNS trigger AS $$
BEGIN
  UPDATE wallets SET balance = balance + NEW.amount, updated_at = now() WHERE buyer_id = NEW.buyer_id;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER ledger_apply_entry AFTER INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_entry();
--> statement-breakpoint
-- The ledger is append-only: corrections are new entries (refund, adjustment).
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
--> statement-breakpoint
-- Each assignment counts against its offer's winners; offers' CHECK
-- (winners <= max_winners) refuses one winner too many.
CREATE OR REPLACE FUNCTION assignment_count_winner() RETURNS trigger AS $$
BEGIN
  UPDATE offers SET winners = winners + 1 WHERE id = NEW.offer_id;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER assignment_count_winner AFTER INSERT ON assignments
  FOR EACH ROW EXECUTE FUNCTION assignment_count_winner();
