/** The PostgreSQL statements of the event log's partitions (see `../pg-partitions.ts`); names come from the catalog. */
import { DROP_LOCK, PARTITION_LOCK } from "./locks.js";

export const LOCK_PARTITIONS = `SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`;
export const SEQUENCE_VALUE = `SELECT last_value AS last FROM events_seq`;
export const LAST_SEQ = `SELECT last_seq AS seq FROM store_state WHERE id = 1`;
export const createPartitionSql = (from: number): string => `CREATE TABLE IF NOT EXISTS events_from_${from} (LIKE events INCLUDING DEFAULTS)`;
export const attachPartitionSql = (from: number, to: number): string =>
  `ALTER TABLE events ATTACH PARTITION events_from_${from} FOR VALUES FROM (${from}) TO (${to})`;
export const TRY_LOCK_DROPPER = `SELECT pg_try_advisory_lock(${DROP_LOCK}) AS ok`;
export const UNLOCK_DROPPER = `SELECT pg_advisory_unlock(${DROP_LOCK})`;
export const finalizeDetachSql = (name: string): string => `ALTER TABLE events DETACH PARTITION ${name} FINALIZE`;
export const detachPartitionSql = (name: string): string => `ALTER TABLE events DETACH PARTITION ${name} CONCURRENTLY`;
export const partitionTopicsSql = (name: string): string => `WITH RECURSIVE t AS (
         SELECT min(topic) AS topic FROM ${name}
         UNION ALL
         SELECT (SELECT min(topic) FROM ${name} WHERE topic > t.topic) FROM t WHERE t.topic IS NOT NULL
       )
       SELECT t.topic, (SELECT max(received_at) FROM ${name} e WHERE e.topic = t.topic) AS newest FROM t WHERE t.topic IS NOT NULL`;
export const partitionCountsSql = (name: string): string => `SELECT topic, count(*) AS n FROM ${name} GROUP BY topic`;
export const LOWER_TOPIC_COUNTS = `UPDATE topics SET event_count = greatest(event_count - u.n, 0) FROM unnest($1::text[], $2::bigint[]) AS u(name, n)
           WHERE topics.name = u.name`;
export const dropTableSql = (name: string): string => `DROP TABLE ${name}`;
export const LIST_PARTITIONS = `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS pending
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`;
export const LIST_DETACHED_LEFTOVERS = `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND NOT c.relispartition
       AND (c.relname LIKE 'events\\_from\\_%' OR c.relname = 'events_before_partitioning')`;
