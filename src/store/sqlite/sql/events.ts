/** The SQLite statements of the event log (see `../sqlite-events.ts`); every export is a statement, prepared by name. */
import { EVENT_READ_COLUMNS } from "../../rows.js";

const EVENT_COLUMNS = `seq, id, topic, type, source, subject, time, key, data, attributes, received_at, publisher, headers`;
const EVENT_VALUES = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Stores one event with the seq given in memory; a repeated id changes nothing (then looked up as a repeat). */
export const INSERT_EVENT = `INSERT INTO events (${EVENT_COLUMNS})
         VALUES ${EVENT_VALUES} ON CONFLICT (id) DO NOTHING`;
/**
 * Stores n events in one statement (one call into SQLite instead of n). `OR IGNORE`, so that no row can abort the
 * statement: SQLite then keeps no statement journal, which for 64 rows spilled to a temporary file and cost about a
 * third of the insert. A row it skipped (a repeated id) shows as fewer changes than rows: the caller takes back the
 * rows stored (`DELETE_STORED_ROW`) and stores those events one by one instead.
 */
const insertEvents = (n: number, columns: string, values: string): string =>
  `INSERT OR IGNORE INTO events (${columns}) VALUES ${Array(n).fill(values).join(", ")}`;
export const INSERT_EVENTS_8 = insertEvents(8, EVENT_COLUMNS, EVENT_VALUES);
export const INSERT_EVENTS_64 = insertEvents(64, EVENT_COLUMNS, EVENT_VALUES);
/**
 * The same for events with only the columns every event has (the others NULL, as most events leave them): 6 parameters
 * a row instead of 13, which saved about a tenth of the insert's CPU.
 */
const PLAIN_EVENT_COLUMNS = `seq, id, topic, time, data, received_at`;
const PLAIN_EVENT_VALUES = `(?, ?, ?, ?, ?, ?)`;
export const INSERT_PLAIN_EVENTS_8 = insertEvents(8, PLAIN_EVENT_COLUMNS, PLAIN_EVENT_VALUES);
export const INSERT_PLAIN_EVENTS_64 = insertEvents(64, PLAIN_EVENT_COLUMNS, PLAIN_EVENT_VALUES);
/** Takes back one row a multi-row insert stored, by seq and id both: a row there before it (the same seq) stays. */
export const DELETE_STORED_ROW = `DELETE FROM events WHERE seq = ? AND id = ?`;
/** Read in raw mode (see EVENT_READ_COLUMNS). */
export const EVENT_BY_ID = `SELECT ${EVENT_READ_COLUMNS} FROM events WHERE id = ?`;
/** What deciding a repeat of a client id needs (see `../../repeats.ts`). */
export const PRIOR_BY_ID = `SELECT seq, topic, source, publisher FROM events WHERE id = ?`;
/** Read in raw mode (see EVENT_READ_COLUMNS). */
export const EVENTS_AFTER = `SELECT ${EVENT_READ_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`;
/** The highest seq given out: kept in store_state, so deleting the newest events cannot bring it back. */
export const LAST_SEQ = `SELECT max((SELECT coalesce(max(seq), 0) FROM events), (SELECT last_seq FROM store_state)) AS seq`;
export const SAVE_LAST_SEQ = `UPDATE store_state SET last_seq = ? WHERE id = 1`;
export const FIRST_SEQ = `SELECT min(seq) AS seq FROM events`;
export const SEQ_BOUNDS = `SELECT min(seq) AS lo, max(seq) AS hi FROM events`;
/** One probe of the binary search of seqBefore. */
export const RECEIVED_AT_FROM_SEQ = `SELECT received_at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1`;
/** Creates a topic an append names, if missing. */
export const ENSURE_TOPIC = `INSERT INTO topics (name, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`;
/** A topic's counters after a group commit, once per topic. */
export const BUMP_TOPIC = `UPDATE topics SET event_count = event_count + ?, last_event_at = max(coalesce(last_event_at, 0), ?) WHERE name = ?`;
export const IDEMPOTENCY_GET = `SELECT results FROM idempotency_keys WHERE publisher = ? AND key = ?`;
export const IDEMPOTENCY_PUT = `INSERT INTO idempotency_keys (publisher, key, results, created_at) VALUES (?, ?, ?, ?)`;
/** Retention: a batch of a topic's oldest events received before a time. */
export const DELETE_OLD_EVENTS = `DELETE FROM events WHERE seq IN
           (SELECT seq FROM events WHERE topic = ? AND received_at < ? ORDER BY received_at, seq LIMIT ?)`;
export const LOWER_TOPIC_COUNT = `UPDATE topics SET event_count = max(event_count - ?, 0) WHERE name = ?`;
/** The outbox row an append relays, deleted in the same transaction (0 changes: another relay took it). */
export const OUTBOX_DELETE = `DELETE FROM outbox WHERE id = ?`;
