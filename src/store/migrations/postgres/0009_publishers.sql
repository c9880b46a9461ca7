-- Repeats replay only within one publisher (see src/store/repeats.ts). Events with a client-given id record the
-- credential that stored them (NULL when auth was off, and for generated ids, which no one can repeat by accident).
-- A nullable column without a default: a catalog change, whatever the size of the log.
ALTER TABLE events ADD COLUMN publisher text;

-- Idempotency-Keys are kept per credential: '' is the one owner when auth is off.
ALTER TABLE idempotency_keys ADD COLUMN publisher text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (publisher, key);
