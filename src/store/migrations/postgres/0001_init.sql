-- Topics, the event log and idempotency keys. Names and ids use the "C" collation: byte order, as in SQLite, so
-- that prefix ranges (topic >= 'orders.' AND topic < 'orders/') and ULID ordering mean the same in both dialects.
CREATE TABLE topics (
  name          text COLLATE "C" PRIMARY KEY,
  description   text,
  schema        json,              -- JSON Schema as written (json, not jsonb, keeps its key order), or NULL
  origin_host   text,
  created_at    bigint NOT NULL,   -- epoch ms
  updated_at    bigint NOT NULL,
  event_count   bigint NOT NULL DEFAULT 0,
  last_event_at bigint             -- receive time of the newest event, epoch ms
);

-- seq comes from a sequence: strictly increasing and never reused, even after the newest events are deleted.
-- Appends take an advisory lock so that seq order is also commit order (see pg-store.ts).
CREATE SEQUENCE events_seq AS bigint;

CREATE TABLE events (
  seq         bigint PRIMARY KEY DEFAULT nextval('events_seq'),
  id          text COLLATE "C" NOT NULL UNIQUE,
  topic       text COLLATE "C" NOT NULL,
  type        text,
  source      text,
  subject     text,
  time        bigint NOT NULL,     -- event time, epoch ms
  key         text,
  data        text   NOT NULL,     -- JSON text exactly as received: replayed SSE frames must equal live ones
  attributes  json,                -- JSON object (json keeps key order), NULL when empty
  received_at bigint NOT NULL
);
ALTER SEQUENCE events_seq OWNED BY events.seq;

-- Time-range search on one topic, and on all topics; seq breaks ties and makes the cursor exact.
CREATE INDEX events_topic_time ON events (topic, time, seq);
CREATE INDEX events_time ON events (time, seq);

CREATE TABLE idempotency_keys (
  key        text PRIMARY KEY,
  results    jsonb  NOT NULL,      -- array of {id, seq, topic}
  created_at bigint NOT NULL
);

-- The highest committed seq, so that lastSeq() does not go back when the newest events are deleted (a topic,
-- retention). Written by the append transaction under its lock, so it is visible exactly when the events are; the
-- sequence's own value cannot serve, as it also counts numbers of appends still in flight.
CREATE TABLE store_state (
  id       integer PRIMARY KEY CHECK (id = 1),
  last_seq bigint NOT NULL
);
INSERT INTO store_state (id, last_seq) VALUES (1, 0);
