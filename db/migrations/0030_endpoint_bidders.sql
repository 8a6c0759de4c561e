-- Endpoint bidders in highest-bid auctions (#22 item 3): a highest_bid campaign
-- may name buyers whose own systems are pinged when the offer opens and bid in
-- the same window as the feed's buyers. Only an exclusive highest_bid campaign
-- carries them (a post whose fate is unknown stops the auction for a person,
-- which a shared lead's other sales would not wait for); the API refuses them
-- elsewhere, and this CHECK holds it in the database.
ALTER TABLE "campaigns" ADD COLUMN "endpoint_bidders" jsonb;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_endpoint_bidders_highest_bid" CHECK ("endpoint_bidders" IS NULL OR ("auction" = 'highest_bid' AND "max_winners" = 1));
