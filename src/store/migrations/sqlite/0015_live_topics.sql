-- A topic's storage: 'log' (events are stored, then streamed and delivered) or 'none' (live-only: events go to
-- the open streams and are never written; see docs/streams.md).
ALTER TABLE topics ADD COLUMN storage TEXT NOT NULL DEFAULT 'log' CHECK (storage IN ('log', 'none'));
