-- Rollups (see docs/aggregation.md). `res` is the bucket width in ms (60000, 3600000, 86400000) and `t` the bucket's
-- start (epoch ms, UTC). Minutes are written at commit; hours and days are derived from them by housekeeping.
CREATE TABLE event_rollups (
  res   INTEGER NOT NULL,
  t     INTEGER NOT NULL,
  topic TEXT    NOT NULL,
  type  TEXT    NOT NULL,     -- '' for events without a type
  count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,     -- UTF-8 bytes of the events' data
  PRIMARY KEY (res, t, topic, type)
) WITHOUT ROWID;

-- Per subscription: attempts that delivered, failed (to be retried) and left their delivery dead; latency histogram
-- with fixed upper bounds 10, 25, 50, 100, 250, 500, 1000, 2500, 10000 ms and +Inf (h0..h9).
CREATE TABLE delivery_rollups (
  res             INTEGER NOT NULL,
  t               INTEGER NOT NULL,
  subscription_id TEXT    NOT NULL,
  delivered       INTEGER NOT NULL,
  failed          INTEGER NOT NULL,
  dead            INTEGER NOT NULL,
  latency_sum     REAL    NOT NULL,
  h0 INTEGER NOT NULL, h1 INTEGER NOT NULL, h2 INTEGER NOT NULL, h3 INTEGER NOT NULL, h4 INTEGER NOT NULL,
  h5 INTEGER NOT NULL, h6 INTEGER NOT NULL, h7 INTEGER NOT NULL, h8 INTEGER NOT NULL, h9 INTEGER NOT NULL,
  PRIMARY KEY (res, t, subscription_id)
) WITHOUT ROWID;

-- How far each coarser resolution has been derived: buckets before `rolled_until` are complete.
CREATE TABLE rollup_marks (
  res          INTEGER PRIMARY KEY,
  rolled_until INTEGER NOT NULL
);
