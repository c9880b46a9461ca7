/** The PostgreSQL statements of rollups (see `../pg-rollups.ts`); the shared ones are in `../../rollup-sql.ts`. */
import { HISTOGRAM_COLUMNS, UPSERT_DELIVERY_ROLLUP_SET, UPSERT_EVENT_ROLLUP_SET } from "../../rollup-sql.js";
import { ROLLUP_LOCK } from "./locks.js";

/**
 * The CTE that adds a batch's event minutes, aggregated in memory (see `eventMinutes`, which adds the sums over every
 * topic), at parameters `$n`..`$n+4`: t, topic, type, count, bytes. Appends hold the append lock, so upserts of
 * concurrent batches never cross. `where`: what follows the unnest in FROM, a join or a condition the rows must meet
 * (the plain append's join of its reserved seqs).
 */
export function eventMinutesCte(n: number, where = ""): string {
  return `INSERT INTO event_rollups (res, t, topic, type, count, bytes)
     SELECT 60000, u.t, u.topic, u.type, u.count, u.bytes FROM unnest($${n}::bigint[], $${n + 1}::text[], $${n + 2}::text[], $${n + 3}::bigint[], $${n + 4}::bigint[])
       AS u(t, topic, type, count, bytes) ${where}
     ${UPSERT_EVENT_ROLLUP_SET}`;
}

/** The careful path's event minutes, after its requests: parameters $1..$5 as in {@link eventMinutesCte}. */
export const ADD_EVENT_MINUTES = eventMinutesCte(1);

const HISTOGRAM_SUMS = Array.from({ length: 10 }, (_, i) => `count(*) FILTER (WHERE a.bucket = ${i})`).join(", ");

/**
 * The CTE of RECORD_ATTEMPTS that adds the attempts to their subscriptions' minutes, and to the minutes' sum over every
 * subscription (subscription ''): the attempts ($1 ids, $2 times, $4 latencies) with $14 outcomes and $15 latency
 * buckets, aggregated here. In (subscription, minute) order, so that batches of several nodes lock the rows they share
 * in the same order.
 */
export const DELIVERY_MINUTES_CTE = `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, ${HISTOGRAM_COLUMNS})
         SELECT 60000, (a.at / 60000) * 60000 AS minute, CASE WHEN GROUPING(d.subscription_id) = 1 THEN '' ELSE d.subscription_id END AS sub,
           count(*) FILTER (WHERE a.outcome = 'delivered'), count(*) FILTER (WHERE a.outcome = 'failed'),
           count(*) FILTER (WHERE a.outcome = 'dead'), sum(a.latency), ${HISTOGRAM_SUMS}
         FROM unnest($1::text[], $2::bigint[], $4::float8[], $14::text[], $15::int[]) AS a(id, at, latency, outcome, bucket)
           JOIN deliveries d ON d.id = a.id
         GROUP BY GROUPING SETS (((a.at / 60000) * 60000, d.subscription_id), ((a.at / 60000) * 60000)) ORDER BY sub, minute
         ${UPSERT_DELIVERY_ROLLUP_SET}`;

export const MARKS = `SELECT res, rolled_until FROM rollup_marks`;
export const SET_MARK = `INSERT INTO rollup_marks (res, rolled_until) VALUES ($1, $2) ON CONFLICT (res) DO UPDATE SET rolled_until = excluded.rolled_until`;
/** The start of the oldest bucket of a resolution, in either table. */
export const OLDEST = `SELECT least((SELECT min(t) FROM event_rollups WHERE res = $1), (SELECT min(t) FROM delivery_rollups WHERE res = $1)) AS t`;
export const PRUNE = `WITH e AS (DELETE FROM event_rollups WHERE res = $1 AND t < $2) DELETE FROM delivery_rollups WHERE res = $1 AND t < $2`;
/** Roll-ups of several nodes take turns. */
export const LOCK_ROLLUP = `SELECT pg_advisory_xact_lock(${ROLLUP_LOCK})`;
