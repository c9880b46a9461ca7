-- Event retention per topic: events received longer ago than retention_ms are removed; 0 keeps them forever;
-- NULL uses the hub's eventRetentionMs.
ALTER TABLE topics ADD COLUMN retention_ms bigint;

-- Retention removes a topic's oldest events by receive time in small batches; without this index each batch would
-- scan the whole log. It costs one more index entry per stored event.
CREATE INDEX events_topic_received ON events (topic, received_at);
