import { createHash } from "node:crypto";
import pg from "pg";
import { searchEventsSql } from "../../src/store/postgres/pg-events.js";
import { importDist } from "./dist.js";
import type { QueryWindow } from "./event-log.js";
import { ensureEventPartitions, NEXT_SEQ_SQL, openMigratedPgStore, PG_TYPES } from "./pg-bench-store.js";
import { createDatabase, databaseUrl } from "./pg-server.js";
import { summarize, type Summary } from "./stats.js";

/**
 * The SQL the PostgreSQL store's event search builds for `?topic=X&from=…&to=…&limit=N` (one exact topic,
 * ascending), with its parameters `[topic, from, to, limit]`.
 */
export const PG_TOPIC_RANGE_SQL = searchEventsSql({ topics: ["x"], fromTime: 0, toTime: 0, order: "asc", limit: 1 }).sql;

/**
 * The same search with the topic as `= ANY(array)`, as the store wrote it before, for comparison: PostgreSQL then
 * cannot take rows in (time, seq) order from the (topic, time, seq) index, so it reads the whole window and sorts.
 */
const PG_ANY_TOPIC_SQL = `SELECT * FROM events WHERE (topic = ANY($1::text[])) AND time >= $2 AND time < $3 ORDER BY time ASC, seq ASC LIMIT $4`;

/** Bump when the filled rows change shape, so that cached databases are filled again. */
const FILL_FORMAT = 1;
/** Rows per INSERT … SELECT while filling (each its own transaction), and between progress lines. */
const FILL_CHUNK = 1_000_000;

/**
 * One chunk of the fill: rows `$3`..`$4` of the whole, evenly spread over time from `$1` by `$2` ms each (with
 * jitter, so time follows seq), each on a random topic of `$5`, seq from the sequence as the store takes it. Ids are
 * ULID-shaped (`evt_`, 26 characters, sorted by time); the data text is that of the SQLite query bench.
 */
const FILL_SQL = `INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at)
  SELECT nextval('events_seq'), 'evt_' || lpad(upper(to_hex(t)), 12, '0') || upper(substr(md5(g::text), 1, 14)), topic,
    'bench.event', NULL, NULL, t, NULL,
    '{"msg":"data","n":' || g || ',"user_id":' || floor(random() * 10000)::int || ',"timestamp":"' || (t / 1000) || '"}', NULL, t
  FROM (SELECT g, floor($1::float8 + (g + random()) * $2::float8)::bigint AS t,
          ($5::text[])[1 + floor(random() * cardinality($5::text[]))::int] AS topic
        FROM generate_series($3::bigint, $4::bigint) AS g) AS s`;

/** Options of {@link prefillPgEvents}. */
export interface PgPrefillOptions {
  /** A database of its own: it is dropped and created again whenever it has to be filled. */
  database: string;
  count: number;
  topics: string[];
  /** Events are spread over [end − spanMs, end). */
  end: number;
  spanMs: number;
  /**
   * Keep the filled database and use it again while its marker (schema version, a hash of the migrations, the row
   * count, the fill's format) matches: filling 10 million rows takes minutes.
   */
  cache: boolean;
  /** Progress lines are written to stdout with this prefix. */
  logPrefix: string;
}

/** What {@link prefillPgEvents} did. */
export interface PgPrefillResult {
  reused: boolean;
  /** Filling (with ANALYZE), 0 when reused. */
  fillS: number;
  /** Reading the event tables and indexes into the OS cache. */
  prewarmS: number;
  schemaVersion: number;
  /** How the caches were warmed. */
  prewarm: string;
}

interface Marker {
  schema_version: number;
  migrations_sha: string;
  events: number;
  fill_format: number;
  current_version: number;
}

/**
 * Fills a PostgreSQL database with `count` events through the store's own schema (its migrations, run by
 * `migrate()` from dist/), fast: INSERT … SELECT from generate_series, 1,000,000 rows a statement, with the event
 * partitions made ahead of each chunk when the store has them. Then sets store_state.last_seq and the topics'
 * counts as the store would have, and runs VACUUM (ANALYZE). With `cache`, a database whose marker matches is used as
 * it is. Either way the event tables and their indexes are then read into the OS cache, as a busy hub would have them.
 */
export async function prefillPgEvents(o: PgPrefillOptions): Promise<PgPrefillResult> {
  const log = (message: string) => process.stdout.write(`${o.logPrefix}${message}\n`);
  const { loadMigrations } = await importDist<typeof import("../../src/store/migrate.js")>("store/migrate.js");
  const migrations = loadMigrations("postgres");
  const expected = {
    schema_version: migrations.length,
    migrations_sha: createHash("sha256")
      .update(migrations.map((m) => m.sql).join("\n-- next --\n"))
      .digest("hex"),
    events: o.count,
    fill_format: FILL_FORMAT,
  };
  const url = databaseUrl(o.database);
  const marker = o.cache ? await readMarker(url) : undefined;
  const reused =
    marker !== undefined &&
    marker.current_version === expected.schema_version &&
    (Object.keys(expected) as (keyof typeof expected)[]).every((k) => marker[k] === expected[k]);
  let fillS = 0;
  if (!reused) {
    if (marker) log(`prefill: the cached ${o.database} does not match (${JSON.stringify(marker)}); filling it again`);
    fillS = await fill(o, await createDatabase(o.database), expected, log);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t0 = performance.now();
    const prewarm = await prewarmEvents(client);
    return { reused, fillS, prewarmS: (performance.now() - t0) / 1000, schemaVersion: expected.schema_version, prewarm };
  } finally {
    await client.end();
  }
}

async function readMarker(url: string): Promise<Marker | undefined> {
  const client = new pg.Client({ connectionString: url, types: PG_TYPES });
  try {
    await client.connect();
  } catch (error) {
    if ((error as { code?: string }).code === "3D000") return undefined; // no such database
    throw error;
  }
  try {
    const { rows } = await client.query<Marker>(
      `SELECT schema_version, migrations_sha, events, fill_format, (SELECT max(version) FROM switchboard_migrations) AS current_version FROM bench_fill`,
    );
    return rows[0];
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return undefined; // no marker: never finished filling
    throw error;
  } finally {
    await client.end();
  }
}

async function fill(o: PgPrefillOptions, url: string, marker: Omit<Marker, "current_version">, log: (m: string) => void): Promise<number> {
  const t0 = performance.now();
  const store = await openMigratedPgStore(url);
  const client = new pg.Client({ connectionString: url, types: PG_TYPES });
  await client.connect();
  try {
    await client.query(`SET synchronous_commit = off`);
    await client.query(`SELECT setseed(0.42)`); // the same rows every fill
    const start = o.end - o.spanMs;
    const step = o.spanMs / o.count;
    for (let from = 0; from < o.count; from += FILL_CHUNK) {
      const to = Math.min(o.count, from + FILL_CHUNK);
      const next = (await client.query<{ next: number }>(NEXT_SEQ_SQL)).rows[0]!.next;
      await ensureEventPartitions(store, next + (to - from) - 1);
      await client.query(FILL_SQL, [start, step, from, to - 1, o.topics]);
      log(`prefill: ${to.toLocaleString("en-US")} of ${o.count.toLocaleString("en-US")} events (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    // What the store's appends keep up to date as they go.
    await client.query(`UPDATE store_state SET last_seq = (SELECT max(seq) FROM events) WHERE id = 1`);
    await client.query(
      `INSERT INTO topics (name, created_at, updated_at, event_count, last_event_at)
       SELECT topic, $1::bigint, $1::bigint, count(*), max(received_at) FROM events GROUP BY topic`,
      [start],
    );
    log(`prefill: VACUUM (ANALYZE) events`);
    await client.query(`VACUUM (ANALYZE) events`);
    // Last, so that an interrupted fill leaves no marker and is filled again.
    await client.query(`CREATE TABLE bench_fill (schema_version integer, migrations_sha text, events bigint, fill_format integer, filled_at timestamptz)`);
    await client.query(`INSERT INTO bench_fill VALUES ($1, $2, $3, $4, now())`, [
      marker.schema_version,
      marker.migrations_sha,
      marker.events,
      marker.fill_format,
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const { rows } = await client.query<{ size: string }>(`SELECT pg_size_pretty(pg_database_size(current_database())) AS size`);
    log(`prefill: ${o.count.toLocaleString("en-US")} events in ${seconds.toFixed(0)} s; database ${rows[0]!.size}`);
    return seconds;
  } finally {
    await client.end();
    await store.close();
  }
}

/**
 * Reads every table and index of the event log (each partition's) into the OS cache with pg_prewarm, or, where that
 * extension is missing, the tables alone by a sequential scan.
 */
async function prewarmEvents(client: pg.Client): Promise<string> {
  const leaves = `SELECT relid FROM pg_partition_tree('events') WHERE isleaf`;
  try {
    await client.query(`CREATE EXTENSION IF NOT EXISTS pg_prewarm`);
  } catch {
    await client.query(`SELECT count(*) FROM events`);
    return "sequential scan of the tables (no pg_prewarm)";
  }
  const { rows } = await client.query<{ pages: string }>(
    `SELECT sum(pg_prewarm(oid, 'read')) AS pages FROM (${leaves} UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (${leaves})) AS r(oid)`,
  );
  return `pg_prewarm (read) of the tables and indexes: ${Math.round((Number(rows[0]!.pages) * 8) / 1024)} MiB`;
}

/** What {@link queryPgDirect} measured. */
export interface PgQueryDirectResult {
  latency: Summary;
  meanRows: number;
  /** The same queries as a named statement, prepared once per connection. */
  prepared: Summary;
  /** The same windows with `topic = ANY($1::text[])` in place of `topic = $1` (unnamed, as the store sends). */
  anyTopic: Summary;
  plan: string[];
  anyTopicPlan: string[];
}

/**
 * The baseline of the pg-query bench: the store's SQL and parameters, run straight on node-postgres (its own
 * connection, int8 read as numbers as the store does), timed per query. As the store does, each query goes unnamed
 * (planned for its parameters); then, for comparison, the same windows as a named, prepared statement, and with
 * `topic = ANY($1::text[])` for the one topic. The first `warmup` queries of each pass are not counted.
 */
export async function queryPgDirect(o: { database: string; windows: QueryWindow[]; limit: number; warmup: number }): Promise<PgQueryDirectResult> {
  const client = new pg.Client({ connectionString: databaseUrl(o.database), types: PG_TYPES });
  await client.connect();
  try {
    const params = (w: QueryWindow): unknown[] => [w.topic, w.from, w.to, o.limit];
    const anyTopicParams = (w: QueryWindow): unknown[] => [[w.topic], w.from, w.to, o.limit];
    const explain = async (sql: string, values: unknown[]) =>
      (await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (COSTS OFF) ${sql}`, values)).rows.map((r) => r["QUERY PLAN"].trim());
    const first = o.windows[0]!;
    const pass = async (name: string | undefined, text = PG_TOPIC_RANGE_SQL, values = params) => {
      const latencies: number[] = [];
      let rows = 0;
      for (const [i, w] of o.windows.entries()) {
        const t = performance.now();
        const n = (await client.query({ name, text, values: values(w) })).rows.length;
        const ms = performance.now() - t;
        if (i < o.warmup) continue;
        latencies.push(ms);
        rows += n;
      }
      return { latency: summarize(latencies), meanRows: rows / Math.max(1, latencies.length) };
    };
    const unnamed = await pass(undefined);
    const prepared = await pass("bench_topic_range");
    const anyTopic = await pass(undefined, PG_ANY_TOPIC_SQL, anyTopicParams);
    return {
      latency: unnamed.latency,
      meanRows: unnamed.meanRows,
      prepared: prepared.latency,
      anyTopic: anyTopic.latency,
      plan: await explain(PG_TOPIC_RANGE_SQL, params(first)),
      anyTopicPlan: await explain(PG_ANY_TOPIC_SQL, anyTopicParams(first)),
    };
  } finally {
    await client.end();
  }
}
