/** The PostgreSQL statements of events (see `../pg-events.ts`). */

export const EVENT_BY_ID = `SELECT * FROM events WHERE id = $1`;
export const EVENTS_AFTER = `SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`;
/** The highest committed seq (store_state), not the sequence, which counts appends still in flight. */
export const LAST_SEQ = `SELECT last_seq AS seq FROM store_state WHERE id = 1`;
export const FIRST_SEQ = `SELECT min(seq) AS seq FROM events`;
export const SEQ_BOUNDS = `SELECT min(seq) AS lo, max(seq) AS hi FROM events`;
/** One probe of the binary search of seqBefore: the first event at or after a seq. */
export const FIRST_FROM_SEQ = `SELECT seq, received_at FROM events WHERE seq >= $1 ORDER BY seq LIMIT 1`;
export const LAST_SEQ_BELOW = `SELECT max(seq) AS seq FROM events WHERE seq < $1`;
/** Retention: a batch of a topic's oldest events and the topic's count, in one statement. */
export const DELETE_OLD_EVENTS = `WITH gone AS (
         DELETE FROM events WHERE seq IN
           (SELECT seq FROM events WHERE topic = $1 AND received_at < $2 ORDER BY received_at, seq LIMIT $3)
         RETURNING 1
       ), removed AS (SELECT count(*) AS n FROM gone), counted AS (
         UPDATE topics SET event_count = greatest(event_count - (SELECT n FROM removed), 0)
         WHERE name = $1 AND (SELECT n FROM removed) > 0
       )
       SELECT n FROM removed`;
