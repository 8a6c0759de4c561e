-- The sale of an accepted post (#22) finds the post by its buyer and idempotency key in endpoint_call_facts, which
-- are kept for good: the endpoint log (endpoint_calls) keeps only each endpoint's last 100 calls, so a busy
-- endpoint's pings could trim an accepted post from it before its sale committed (a worker restarting after a crash,
-- say) – and the sale would then refuse to charge for a lead the buyer took.
CREATE INDEX "endpoint_call_facts_post_idx" ON "endpoint_call_facts" USING btree ("buyer_id", "idempotency_key")
  WHERE "idempotency_key" IS NOT NULL;
