-- Repeats replay only within one publisher (see src/store/repeats.ts). Events with a client-given id record the
-- credential that stored them (NULL when auth was off, and for generated ids, which no one can repeat by accident).
ALTER TABLE events ADD COLUMN publisher TEXT;

-- Idempotency-Keys are kept per credential: "" is the one owner when auth is off.
CREATE TABLE idempotency_keys_scoped (
  publisher  TEXT    NOT NULL,
  key        TEXT    NOT NULL,
  results    TEXT    NOT NULL,     -- JSON array of {id, seq, topic}
  created_at INTEGER NOT NULL,
  PRIMARY KEY (publisher, key)
);
INSERT INTO idempotency_keys_scoped (publisher, key, results, created_at) SELECT '', key, results, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
