-- Delivering nodes and when each was last seen: a node renewing its leases also records itself here, and counts the
-- nodes seen within a lease's lifetime to take only its share of the subscriptions (see Dispatcher.renewLeases).
CREATE TABLE delivery_nodes (
  node_id TEXT PRIMARY KEY,
  seen_at INTEGER NOT NULL
);
