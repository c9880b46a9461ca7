-- The publish request headers the hub keeps with an event (SWITCHBOARD_CAPTURE_HEADERS): a JSON object of
-- lower-case names, NULL when none were captured. Added to the partitioned parent, so to every partition.
ALTER TABLE events ADD COLUMN headers json;
-- A subscription's filter as its author wrote it, in another syntax than CEL (switch's Python expressions); `filter`
-- keeps its CEL translation, which is what runs. NULL source: the filter was written in CEL.
ALTER TABLE subscriptions ADD COLUMN filter_syntax TEXT NOT NULL DEFAULT 'cel';
ALTER TABLE subscriptions ADD COLUMN filter_source TEXT;
