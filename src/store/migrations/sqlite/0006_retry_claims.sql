-- Retry claims: a node about to send a retry claims the delivery until claim_expires_at (epoch ms), so that no other
-- node sends the same attempt; recording the attempt clears the claim. On PostgreSQL any free node may claim due
-- retries; one SQLite process never competes with itself, but the columns keep both stores alike.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN claim_expires_at INTEGER;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'retrying';
