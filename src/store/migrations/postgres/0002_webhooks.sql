-- Webhook subscriptions, their deliveries and every attempt.
CREATE TABLE subscriptions (
  id              text COLLATE "C" PRIMARY KEY,  -- sub_<ULID>
  topic           text COLLATE "C" NOT NULL,     -- a name or a pattern such as orders.*
  url             text    NOT NULL,
  filter          text,                          -- CEL, or NULL
  headers         jsonb   NOT NULL,              -- object of strings
  secret          text    NOT NULL,              -- whsec_…
  active          boolean NOT NULL,
  disabled_reason text,                          -- why the hub paused it (410, failing too long), or NULL
  ordering        text    NOT NULL,              -- none | key
  retry_schedule  jsonb   NOT NULL,              -- array of delays in seconds
  timeout_ms      bigint  NOT NULL,
  max_in_flight   integer NOT NULL,
  rate_limit      double precision,              -- deliveries per second, or NULL
  body            text    NOT NULL,              -- data | envelope
  cursor_seq      bigint  NOT NULL,              -- every event with seq <= cursor_seq has been turned into a delivery (or skipped)
  failing_since   bigint,                        -- start of the current run of failures, epoch ms
  created_at      bigint  NOT NULL,
  updated_at      bigint  NOT NULL
);

CREATE TABLE deliveries (
  id              text COLLATE "C" PRIMARY KEY,  -- dlv_<ULID>; also the webhook-id header, the same on every retry
  subscription_id text COLLATE "C" NOT NULL,
  event_seq       bigint  NOT NULL,
  event_id        text COLLATE "C" NOT NULL,
  ordering_key    text,
  status          text    NOT NULL,              -- pending | delivered | retrying | dead
  attempts        integer NOT NULL,              -- attempts in the current round (a manual retry starts a new round)
  next_attempt_at bigint,                        -- epoch ms, for pending and retrying
  last_status     integer,
  last_error      text,
  created_at      bigint  NOT NULL,
  updated_at      bigint  NOT NULL,
  delivered_at    bigint
);
-- Work left for a subscription, in log order; and the usual lookups.
CREATE INDEX deliveries_open ON deliveries (subscription_id, event_seq) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_status ON deliveries (status, created_at);

CREATE TABLE attempts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id      text COLLATE "C" NOT NULL,
  attempted_at     bigint  NOT NULL,
  status_code      integer,
  latency_ms       double precision NOT NULL,
  response_excerpt text,                         -- first 4 KiB of the response
  error            text
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempted_at);
CREATE INDEX attempts_time ON attempts (attempted_at);
