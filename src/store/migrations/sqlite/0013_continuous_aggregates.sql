-- Continuous aggregates (see docs/aggregation.md). A definition is kept as JSON text (`spec`); the events up to
-- `created_seq` are counted only by a backfill, later ones at commit, so that none is counted twice.
CREATE TABLE continuous_aggregates (
  name               TEXT    PRIMARY KEY,
  spec               TEXT    NOT NULL,
  created_at         INTEGER NOT NULL,
  created_seq        INTEGER NOT NULL,
  backfill_state     TEXT,              -- null (never asked), running, done or failed
  backfill_from      INTEGER,           -- event time range of the backfill (null: open)
  backfill_to        INTEGER,
  backfill_start_seq INTEGER,           -- the seqs it covers: (start, created_seq]
  backfill_cursor    INTEGER,            -- the last seq it has counted
  published_until    INTEGER            -- with `publish`: buckets before this were published
);

-- One row per aggregate, bucket start (ms), group (its JSON text, '' for none) and field ('' for the event count):
-- the field's numbers' count, sum, min and max, added to at commit.
CREATE TABLE aggregate_cells (
  name  TEXT    NOT NULL,
  t     INTEGER NOT NULL,
  grp   TEXT    NOT NULL,
  field TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  sum   REAL    NOT NULL,
  min   REAL    NOT NULL,
  max   REAL    NOT NULL,
  PRIMARY KEY (name, t, grp, field)
) WITHOUT ROWID;
