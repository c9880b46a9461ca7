/** The PostgreSQL statements of topics (see `../pg-topics.ts`). */
import { APPEND_LOCK } from "./locks.js";

export const TOPIC_INSERT = `INSERT INTO topics (name, description, schema, origin_host, retention_ms, storage, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *`;
export const TOPIC_GET = `SELECT * FROM topics WHERE name = $1`;
export const TOPIC_LIST = `SELECT * FROM topics ORDER BY name`;
/** Deleting a topic holds the append lock, so no append stores events in it between the two deletes. */
export const TAKE_APPEND_LOCK = `SELECT pg_advisory_xact_lock(${APPEND_LOCK})`;
export const TOPIC_EVENTS_DELETE = `DELETE FROM events WHERE topic = $1`;
export const TOPIC_DELETE = `DELETE FROM topics WHERE name = $1`;
