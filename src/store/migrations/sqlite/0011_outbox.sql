-- The transactional outbox: an application inserts a row inside its own transaction (hub.outbox.publish on its own
-- connection to this file); the hub's relay appends it to the event log and deletes it in the same transaction, so it
-- is relayed once. AUTOINCREMENT: ids never go back, and SQLite commits one writer at a time, so id order is commit order.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- The event's envelope (id, topic, type, key, time, attributes, received_at…) as JSON, without its data.
  envelope TEXT NOT NULL,
  -- The event's data as JSON text, stored as given.
  data TEXT NOT NULL
);
