-- Rollups (see docs/aggregation.md). `res` is the bucket width in ms (60000, 3600000, 86400000) and `t` the bucket's
-- start (epoch ms, UTC). Minutes are written at commit; hours and days are derived from them by housekeeping.
CREATE TABLE event_rollups (
  res   bigint NOT NULL,
  t     bigint NOT NULL,
  topic text   NOT NULL,
  type  text   NOT NULL,     -- '' for events without a type
  count bigint NOT NULL,
  bytes bigint NOT NULL,     -- UTF-8 bytes of the events' data
  PRIMARY KEY (res, t, topic, type)
);

-- Per subscription: attempts that delivered, failed (to be retried) and left their delivery dead; latency histogram
-- with fixed upper bounds 10, 25, 50, 100, 250, 500, 1000, 2500, 10000 ms and +Inf (h0..h9).
CREATE TABLE delivery_rollups (
  res             bigint NOT NULL,
  t               bigint NOT NULL,
  subscription_id text   NOT NULL,
  delivered       bigint NOT NULL,
  failed          bigint NOT NULL,
  dead            bigint NOT NULL,
  latency_sum     float8 NOT NULL,
  h0 bigint NOT NULL, h1 bigint NOT NULL, h2 bigint NOT NULL, h3 bigint NOT NULL, h4 bigint NOT NULL,
  h5 bigint NOT NULL, h6 bigint NOT NULL, h7 bigint NOT NULL, h8 bigint NOT NULL, h9 bigint NOT NULL,
  PRIMARY KEY (res, t, subscription_id)
);

-- How far each coarser resolution has been derived: buckets before `rolled_until` are complete.
CREATE TABLE rollup_marks (
  res          bigint PRIMARY KEY,
  rolled_until bigint NOT NULL
);
