-- The event log partitioned by ranges of seq, so that retention at hundreds of millions of events drops whole
-- partitions (a catalog change) instead of deleting rows one by one, and reads by seq (streams, the dispatcher) touch
-- only the partitions their range covers. The store creates partitions ahead of the sequence (see
-- ensureEventPartitions in pg-store.ts); there is no default partition, so that old ones can be detached CONCURRENTLY.
--
-- A unique index on id is not possible on a table partitioned by seq (a unique key must include the partition key):
-- ids stay unique because appends serialize on an advisory lock and check client-supplied ids before inserting.
--
-- The existing table becomes the first partition, covering every seq given out so far.
ALTER TABLE events RENAME TO events_before_partitioning;
ALTER TABLE events_before_partitioning RENAME CONSTRAINT events_pkey TO events_before_partitioning_pkey;
ALTER TABLE events_before_partitioning DROP CONSTRAINT events_id_key;
ALTER INDEX events_topic_time RENAME TO events_before_partitioning_topic_time;
ALTER INDEX events_time RENAME TO events_before_partitioning_time;
ALTER INDEX events_topic_received RENAME TO events_before_partitioning_topic_received;

CREATE TABLE events (
  seq         bigint NOT NULL DEFAULT nextval('events_seq'),
  id          text COLLATE "C" NOT NULL,
  topic       text COLLATE "C" NOT NULL,
  type        text,
  source      text,
  subject     text,
  time        bigint NOT NULL,     -- event time, epoch ms
  key         text,
  data        text   NOT NULL,     -- JSON text exactly as received
  attributes  json,
  received_at bigint NOT NULL,
  PRIMARY KEY (seq)
) PARTITION BY RANGE (seq);
-- The sequence belongs to the new table, else dropping the old partition one day would drop it too.
ALTER SEQUENCE events_seq OWNED BY events.seq;
ALTER TABLE events_before_partitioning ALTER COLUMN seq DROP DEFAULT;

CREATE INDEX events_id ON events (id);
CREATE INDEX events_topic_time ON events (topic, time, seq);
CREATE INDEX events_time ON events (time, seq);
CREATE INDEX events_topic_received ON events (topic, received_at);

DO $$
DECLARE
  upper_bound bigint;
BEGIN
  SELECT greatest(coalesce(max(seq), 0), (SELECT last_seq FROM store_state WHERE id = 1)) + 1 INTO upper_bound
  FROM events_before_partitioning;
  EXECUTE format('ALTER TABLE events ATTACH PARTITION events_before_partitioning FOR VALUES FROM (MINVALUE) TO (%s)', upper_bound);
END $$;
