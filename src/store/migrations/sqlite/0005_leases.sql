-- Subscription leases: several delivering nodes on one database each dispatch the subscriptions they hold. A lease
-- is held by node_id until expires_at (epoch ms); the holder renews it, and another node takes it once it expired.
-- No foreign key: a lease on a deleted subscription is harmless and simply expires.
CREATE TABLE subscription_leases (
  subscription_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
