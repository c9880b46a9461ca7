-- Continuous aggregates (see docs/aggregation.md). A definition is kept as JSON text (`spec`); the events up to
-- `created_seq` are counted only by a backfill, later ones at commit, so that none is counted twice.
CREATE TABLE continuous_aggregates (
  name               text   PRIMARY KEY,
  spec               text   NOT NULL,
  created_at         bigint NOT NULL,
  created_seq        bigint NOT NULL,
  backfill_state     text,              -- null (never asked), running, done or failed
  backfill_from      bigint,            -- event time range of the backfill (null: open)
  backfill_to        bigint,
  backfill_start_seq bigint,            -- the seqs it covers: (start, created_seq]
  backfill_cursor    bigint,             -- the last seq it has counted
  published_until    bigint             -- with `publish`: buckets before this were published
);

-- One row per aggregate, bucket start (ms), group (its JSON text, '' for none) and field ('' for the event count):
-- the field's numbers' count, sum, min and max, added to at commit.
CREATE TABLE aggregate_cells (
  name  text   NOT NULL,
  t     bigint NOT NULL,
  grp   text   NOT NULL,
  field text   NOT NULL,
  n     bigint NOT NULL,
  sum   float8 NOT NULL,
  min   float8 NOT NULL,
  max   float8 NOT NULL,
  PRIMARY KEY (name, t, grp, field)
);

-- Bumped, under the append lock, by every change of the definitions: a node whose cached version differs reloads
-- them inside its next append transaction.
CREATE TABLE aggregates_version (
  id      int    PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO aggregates_version (id, version) VALUES (1, 0);
