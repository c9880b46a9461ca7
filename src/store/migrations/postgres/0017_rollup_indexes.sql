-- Stats of one topic or one subscription read their own rows of the range, not every topic's or subscription's.
-- Events: an index by topic that covers the query.
CREATE INDEX event_rollups_by_topic ON event_rollups (res, topic, t) INCLUDE (type, count, bytes);

-- Deliveries: keyed by subscription first, with a row per minute under subscription '' holding the sum over every
-- subscription (written at commit like the others), so that both kinds of query read one contiguous range.
ALTER TABLE delivery_rollups DROP CONSTRAINT delivery_rollups_pkey;
ALTER TABLE delivery_rollups ADD PRIMARY KEY (res, subscription_id, t);
INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
  SELECT res, t, '', sum(delivered), sum(failed), sum(dead), sum(latency_sum),
    sum(h0), sum(h1), sum(h2), sum(h3), sum(h4), sum(h5), sum(h6), sum(h7), sum(h8), sum(h9)
  FROM delivery_rollups GROUP BY res, t;
