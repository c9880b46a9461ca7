-- Retry claims: a node about to send a retry claims the delivery until claim_expires_at (epoch ms), so that no other
-- node sends the same attempt; recording the attempt clears the claim. Free nodes find due retries through
-- deliveries_due and claim them with FOR UPDATE SKIP LOCKED.
ALTER TABLE deliveries ADD COLUMN claimed_by text;
ALTER TABLE deliveries ADD COLUMN claim_expires_at bigint;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'retrying';
