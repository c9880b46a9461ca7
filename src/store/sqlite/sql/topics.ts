/** The SQLite statements of topics (see `../sqlite-topics.ts`). */

export const TOPIC_GET = `SELECT * FROM topics WHERE name = ?`;
export const TOPIC_LIST = `SELECT * FROM topics ORDER BY name`;
export const TOPIC_NAMES = `SELECT name FROM topics`;
export const TOPIC_INSERT = `INSERT INTO topics (name, description, schema, origin_host, retention_ms, storage, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
export const TOPIC_DELETE = `DELETE FROM topics WHERE name = ?`;
export const TOPIC_EVENTS_DELETE = `DELETE FROM events WHERE topic = ?`;
/** Counts for stats: events by the topics' counters. */
export const COUNT_EVENTS = `SELECT coalesce(sum(event_count), 0) AS events, count(*) AS topics FROM topics`;
