-- The transactional outbox: an application inserts a row inside its own transaction (hub.outbox.publish on its own
-- client); the hub's relay appends it to the event log and deletes it in the same transaction, so it is relayed once.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  -- The event's envelope (id, topic, type, key, time, attributes, received_at…) as JSON, without its data.
  envelope text NOT NULL,
  -- The event's data as JSON text, stored as given.
  data text NOT NULL
);

-- Wakes the relays (every hub LISTENs on this channel): PostgreSQL delivers the NOTIFY when the inserting transaction
-- commits, and never after a rollback. A statement trigger, so a row inserted by any client wakes them, not only
-- hub.outbox.publish; identical notifications of one transaction are folded into one.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('switchboard_outbox', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
