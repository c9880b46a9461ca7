-- Topics, the event log and idempotency keys.
CREATE TABLE topics (
  name          TEXT PRIMARY KEY,
  description   TEXT,
  schema        TEXT,              -- JSON Schema as JSON text, or NULL
  origin_host   TEXT,
  created_at    INTEGER NOT NULL,  -- epoch ms
  updated_at    INTEGER NOT NULL,
  event_count   INTEGER NOT NULL DEFAULT 0,
  last_event_at INTEGER            -- receive time of the newest event, epoch ms
);

-- seq is the rowid: the log's order, strictly increasing, assigned at commit.
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY,
  id          TEXT    NOT NULL UNIQUE,
  topic       TEXT    NOT NULL,
  type        TEXT,
  source      TEXT,
  subject     TEXT,
  time        INTEGER NOT NULL,    -- event time, epoch ms
  key         TEXT,
  data        TEXT    NOT NULL,    -- JSON text
  attributes  TEXT,                -- JSON object text, NULL when empty
  received_at INTEGER NOT NULL
);

-- Time-range search on one topic, and on all topics; seq breaks ties and makes the cursor exact.
CREATE INDEX events_topic_time ON events (topic, time, seq);
CREATE INDEX events_time ON events (time, seq);

CREATE TABLE idempotency_keys (
  key        TEXT PRIMARY KEY,
  results    TEXT    NOT NULL,     -- JSON array of {id, seq, topic}
  created_at INTEGER NOT NULL
);

-- The highest seq ever given out, so that deleting the newest events (a topic, retention) never lets a seq be
-- handed out twice after a restart.
CREATE TABLE store_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq INTEGER NOT NULL
);
INSERT INTO store_state (id, last_seq) VALUES (1, 0);
