-- PostgreSQL takes count and bytes out of the event rollups' index by topic in this migration (so that the updates at
-- commit are HOT); SQLite has no such updates and keeps its covering index. Kept so that both dialects share their
-- migration numbers.
SELECT 1;
