-- Webhook subscriptions, their deliveries and every attempt.
CREATE TABLE subscriptions (
  id              TEXT PRIMARY KEY,          -- sub_<ULID>
  topic           TEXT    NOT NULL,          -- a name or a pattern such as orders.*
  url             TEXT    NOT NULL,
  filter          TEXT,                      -- CEL, or NULL
  headers         TEXT    NOT NULL,          -- JSON object of strings
  secret          TEXT    NOT NULL,          -- whsec_…
  active          INTEGER NOT NULL,
  disabled_reason TEXT,                      -- why the hub paused it (410, failing too long), or NULL
  ordering        TEXT    NOT NULL,          -- none | key
  retry_schedule  TEXT    NOT NULL,          -- JSON array of delays in seconds
  timeout_ms      INTEGER NOT NULL,
  max_in_flight   INTEGER NOT NULL,
  rate_limit      REAL,                      -- deliveries per second, or NULL
  body            TEXT    NOT NULL,          -- data | envelope
  cursor_seq      INTEGER NOT NULL,          -- every event with seq <= cursor_seq has been turned into a delivery (or skipped)
  failing_since   INTEGER,                   -- start of the current run of failures, epoch ms
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

CREATE TABLE deliveries (
  id              TEXT PRIMARY KEY,          -- dlv_<ULID>; also the webhook-id header, the same on every retry
  subscription_id TEXT    NOT NULL,
  event_seq       INTEGER NOT NULL,
  event_id        TEXT    NOT NULL,
  ordering_key    TEXT,
  status          TEXT    NOT NULL,          -- pending | delivered | retrying | dead
  attempts        INTEGER NOT NULL,          -- attempts in the current round (a manual retry starts a new round)
  next_attempt_at INTEGER,                   -- epoch ms, for pending and retrying
  last_status     INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  delivered_at    INTEGER
);
-- Work left for a subscription, in log order; and the usual lookups.
CREATE INDEX deliveries_open ON deliveries (subscription_id, event_seq) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_status ON deliveries (status, created_at);

CREATE TABLE attempts (
  id               INTEGER PRIMARY KEY,
  delivery_id      TEXT    NOT NULL,
  attempted_at     INTEGER NOT NULL,
  status_code      INTEGER,
  latency_ms       REAL    NOT NULL,
  response_excerpt TEXT,                     -- first 4 KiB of the response
  error            TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempted_at);
CREATE INDEX attempts_time ON attempts (attempted_at);
