-- One row per claim attempt (#27.1: no phantom charge). A claim attempt is
-- (offer, buyer, the client's requestId), the claim Update's id. Whoever
-- decides the attempt first takes its row: the sale transaction inserts it
-- `sold` beside the charge, the claim relay inserts it `refused` before it
-- answers a refusal. The primary key makes them exclusive: an insert waits
-- for the other's uncommitted row and then sees it, so a sale that finds
-- its attempt refused rolls back (no charge) and a refusal that finds it sold
-- answers the win. No foreign keys: a key check would lock the offer row,
-- which every sale of the offer holds, and make refusals wait for other
-- buyers' sales.
CREATE TABLE "claim_attempts" (
	"offer_id" uuid NOT NULL,
	"buyer_id" uuid NOT NULL,
	"request_id" text NOT NULL,
	"state" text NOT NULL,
	-- refused: the reason the buyer was given (a sale of the attempt returns it too)
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "claim_attempts_pk" PRIMARY KEY ("offer_id", "buyer_id", "request_id"),
	CONSTRAINT "claim_attempts_state_known" CHECK ("state" IN ('sold', 'refused')),
	CONSTRAINT "claim_attempts_reason_when_refused" CHECK (("state" = 'refused') = ("reason" IS NOT NULL))
);
