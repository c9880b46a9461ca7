-- Event rollups: a row per (resolution, bucket, type) under topic '' holding the sum over every topic, written at commit
-- beside each topic's own (topic names are never empty), so that a query over every topic reads one row per bucket
-- and type instead of one per topic. Backfilled here from the rows already kept, at every resolution.
INSERT INTO event_rollups (res, t, topic, type, count, bytes)
  SELECT res, t, '', type, sum(count), sum(bytes) FROM event_rollups GROUP BY res, t, type;
