-- Stats of one topic or one subscription read their own rows of the range, not every topic's or subscription's.
-- Events: an index by topic that covers the query (count and bytes are in it).
CREATE INDEX event_rollups_by_topic ON event_rollups (res, topic, t, type, count, bytes);

-- Deliveries: keyed by subscription first, with a row per minute under subscription '' holding the sum over every
-- subscription (written at commit like the others), so that both kinds of query read one contiguous range.
CREATE TABLE delivery_rollups_by_subscription (
  res             INTEGER NOT NULL,
  t               INTEGER NOT NULL,
  subscription_id TEXT    NOT NULL,     -- '' for the sum over every subscription
  delivered       INTEGER NOT NULL,
  failed          INTEGER NOT NULL,
  dead            INTEGER NOT NULL,
  latency_sum     REAL    NOT NULL,
  h0 INTEGER NOT NULL, h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL, h4 INTEGER NOT NULL,
  h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL, h8 INTEGER NOT NULL, h9 INTEGER NOT NULL,
  PRIMARY KEY (res, subscription_id, t)
) WITHOUT ROWID;
INSERT INTO delivery_rollups_by_subscription SELECT * FROM delivery_rollups;
INSERT INTO delivery_rollups_by_subscription
  SELECT res, t, '', sum(delivered), sum(failed), sum(dead), sum(latency_sum),
    sum(h0), sum(h1), sum(h2), sum(h3), sum(h4), sum(h5), sum(h6), sum(h7), sum(h8), sum(h9)
  FROM delivery_rollups GROUP BY res, t;
DROP TABLE delivery_rollups;
ALTER TABLE delivery_rollups_by_subscription RENAME TO delivery_rollups;
