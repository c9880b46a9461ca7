-- In-process handlers (library mode) are subscriptions of kind "function" whose url is `function:<name>`.
-- priority: higher first when several subscriptions wait for the global cap on attempts in flight.
-- A constant default: a catalog change, whatever the size of the table.
ALTER TABLE subscriptions ADD COLUMN priority integer NOT NULL DEFAULT 0;
-- A handler's name is its durable identity: one row per name, even when two nodes register it at once.
CREATE UNIQUE INDEX subscriptions_function_url ON subscriptions (url) WHERE url LIKE 'function:%';
