-- PostgreSQL partitions its events table by seq in this migration; SQLite keeps one table (retention deletes in
-- batches there). Kept so that both dialects share their migration numbers.
SELECT 1;
