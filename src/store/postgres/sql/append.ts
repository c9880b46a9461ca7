/** The PostgreSQL statements of appends (see `../pg-append.ts`). */
import { COMMITS_CHANNEL } from "../pg-watcher.js";
import { upsertCellsSql } from "./aggregates.js";
import { APPEND_LOCK } from "./locks.js";
import { eventMinutesCte } from "./rollups.js";

/**
 * One statement per request: the events in order (nextval follows the ordinality) and the topics of the events
 * created if missing ($12: now, $13: createTopics); $14: the captured headers. Repeats of stored ids were taken
 * out before (see appendOne).
 */
export const APPEND_SQL = `WITH ins AS (
     INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at, publisher, headers)
     SELECT nextval('events_seq'), u.id, u.topic, u.type, u.source, u.subject, u.time, u.key, u.data, u.attributes::json, u.received_at,
            u.publisher, u.headers::json
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[],
                 $11::text[], $14::text[])
       WITH ORDINALITY AS u(id, topic, type, source, subject, time, key, data, attributes, received_at, publisher, headers, ord)
     ORDER BY u.ord
     RETURNING id, seq, topic
   ), created AS (
     INSERT INTO topics (name, created_at, updated_at)
     SELECT DISTINCT topic, $12::bigint, $12::bigint FROM ins WHERE $13::boolean
     ON CONFLICT (name) DO NOTHING
   )
   SELECT id, seq FROM ins`;

/** What the writes of {@link plainAppendSql} other than the events' add to their FROM: the batch's reserved seqs. */
const UNDER_RESERVED = "CROSS JOIN reserved";

/**
 * The whole of a plain group commit in one statement (see `appendPlain`): the events, the topics' counts (creating
 * missing topics; counted in memory: $18 names, $19 counts, $20 last received_at), the batch's event minutes (rollups,
 * aggregated in memory: $12–$16), the captured headers ($17), the highest committed seq and its announcement to the
 * other nodes. Nothing reads the inserted rows back. `guard` (the one-round-trip form): a condition the seqs are
 * reserved under; every write joins `reserved` (one row, or none), so that nothing is written when it fails or the batch
 * holds no event. (A join, rather than the guard again in each write: one subplan fewer to set up per write, measured
 * about 2% of PostgreSQL's instructions for a commit of one event.) `cells`: more CTEs (ending in a comma) written with
 * them, under the same join. The ids ($1), topics
 * ($2) and data texts ($8) come joined by U+001E, the times ($6, whose length is the batch's) and received_at ($10) as
 * array literals: see plainParams.
 *
 * The events' seqs are reserved in one go, under the append lock: one nextval, then setval to the last of the batch,
 * and the event at position i gets first + i - 1. Every nextval of events_seq is taken under that lock (the careful
 * path's too) and the sequence caches one value, so nothing else can take a number in between: the seqs are
 * contiguous and in request order by construction, and the statement returns one row (the first seq) rather than
 * one per event.
 */
function plainAppendSql(prelude: string, guard: string, cells = ""): string {
  return `WITH ${prelude}reserved AS MATERIALIZED (
     SELECT setval('events_seq', nextval('events_seq') + cardinality($6::bigint[]) - 1) - cardinality($6::bigint[]) + 1 AS first
     ${guard ? `${guard} AND` : "WHERE"} cardinality($6::bigint[]) > 0
   ), ins AS (
     INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at, headers)
     SELECT r.first + u.ord - 1, u.id, u.topic, u.type, u.source, u.subject, u.time, u.key, u.data, u.attributes::json, u.received_at,
            u.headers::json
     FROM reserved AS r, unnest(string_to_array($1::text, chr(30)), string_to_array($2::text, chr(30)), $3::text[], $4::text[], $5::text[],
                 $6::bigint[], $7::text[], string_to_array($8::text, chr(30)), $9::text[], $10::bigint[], $17::text[])
       WITH ORDINALITY AS u(id, topic, type, source, subject, time, key, data, attributes, received_at, headers, ord)
   ), counted AS (
     INSERT INTO topics (name, created_at, updated_at, event_count, last_event_at)
     SELECT t.name, $11::bigint, $11::bigint, t.count, t.last FROM unnest($18::text[], $19::bigint[], $20::bigint[]) AS t(name, count, last)
       ${UNDER_RESERVED}
     ON CONFLICT (name) DO UPDATE SET event_count = topics.event_count + excluded.event_count,
       last_event_at = greatest(coalesce(topics.last_event_at, 0), excluded.last_event_at)
   ), rolled AS (
     ${eventMinutesCte(12, UNDER_RESERVED)}
   ), ${cells}state AS (
     UPDATE store_state SET last_seq = greatest(last_seq, r.first + cardinality($6::bigint[]) - 1) FROM reserved AS r WHERE id = 1
     RETURNING last_seq
   )
   SELECT first, (SELECT pg_notify('${COMMITS_CHANNEL}', last_seq::text) FROM state) AS notified FROM reserved`;
}

/** The one-round-trip statements' first CTE: the append lock, then the aggregates' version, read FOR SHARE. */
const ONE_TRIP_LOCKED = `locked AS MATERIALIZED (
     SELECT v.version FROM (SELECT pg_advisory_xact_lock(${APPEND_LOCK})) AS l, aggregates_version AS v WHERE v.id = 1 FOR SHARE OF v
   ), `;

/** What the one-round-trip statements write under: $21, the aggregates' version they were prepared at, is current. */
const ONE_TRIP_GUARD = `WHERE (SELECT $21::bigint IS NULL OR version = $21::bigint FROM locked)`;

/** {@link plainAppendSql} inside the append transaction, after {@link BEGIN_APPEND}. */
export const APPEND_BATCH_SQL = plainAppendSql("", "");

/**
 * {@link plainAppendSql} as a transaction of its own (autocommit): one round trip for BEGIN, the lock, the writes and
 * COMMIT. The lock is taken before anything is written: every write reads `locked`, or `reserved`, whose condition
 * reads it before the nextval, and is held until the commit, as BEGIN_APPEND's is.
 *
 * $21 is the continuous aggregates' version the caller found no definitions at (null: this node counts none). Its row
 * is read FOR SHARE: under READ COMMITTED that reads the newest version even when a change committed while this
 * statement waited for the lock (its snapshot is older). When it differs, nothing is written (no seq is taken) and no row
 * comes back: the caller then takes the transaction's way, which loads the definitions.
 */
export const APPEND_ONE_TRIP_SQL = plainAppendSql(ONE_TRIP_LOCKED, ONE_TRIP_GUARD);

/**
 * {@link APPEND_ONE_TRIP_SQL} with the batch's continuous aggregate cells ($22–$29, see upsertCellsSql), counted in
 * memory with the definitions of version $21: written under the same guard (joining `reserved`), so that cells counted
 * with definitions another node has changed meanwhile are not written (nor anything else), and the caller takes the
 * transaction's way.
 */
export const APPEND_ONE_TRIP_CELLS_SQL = plainAppendSql(
  ONE_TRIP_LOCKED,
  ONE_TRIP_GUARD,
  `celled AS (
     ${upsertCellsSql(22, UNDER_RESERVED)}
   ), `,
);

/** Prepared-statement names of the append statements: prepared once per connection, not planned every time. */
export const APPEND_STATEMENT_NAME = "switchboard_append";
export const APPEND_BATCH_STATEMENT_NAME = "switchboard_append_batch";
export const APPEND_ONE_TRIP_STATEMENT_NAME = "switchboard_append_one_trip";
export const APPEND_ONE_TRIP_CELLS_STATEMENT_NAME = "switchboard_append_one_trip_cells";

/** Begins the append transaction and takes the append lock, in one round trip. */
export const BEGIN_APPEND = `BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK}); SELECT version FROM aggregates_version WHERE id = 1`;

/** The highest committed seq, announced to the other nodes (NOTIFY is delivered at COMMIT, in commit order). */
export const SAVE_LAST_SEQ_AND_NOTIFY = `WITH s AS (UPDATE store_state SET last_seq = greatest(last_seq, $1::bigint) WHERE id = 1 RETURNING 1)
             SELECT pg_notify('${COMMITS_CHANNEL}', $1::bigint::text) FROM s`;

/** The topics' counters after a careful-path group commit, once per topic. */
export const BUMP_TOPICS = `UPDATE topics SET event_count = event_count + u.n, last_event_at = greatest(coalesce(last_event_at, 0), u.last)
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(name, n, last) WHERE topics.name = u.name`;

/** The results of an earlier request with this Idempotency-Key. */
export const IDEMPOTENCY_GET = `SELECT results FROM idempotency_keys WHERE publisher = $1 AND key = $2`;

/** Which of the named topics exist. */
export const EXISTING_TOPICS = `SELECT name FROM topics WHERE name = ANY($1::text[])`;

/** What deciding repeats of client ids needs (see `../../repeats.ts`). */
export const PRIOR_BY_IDS = `SELECT id, seq, topic, source, publisher FROM events WHERE id = ANY($1::text[])`;

/** Records a request's results under its Idempotency-Key. */
export const IDEMPOTENCY_PUT = `INSERT INTO idempotency_keys (publisher, key, results, created_at) VALUES ($1, $2, $3, $4)`;
