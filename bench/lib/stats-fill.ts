/**
 * The stats benches' data and baseline, run in a bench child (bench/worker.ts for SQLite, bench/lib/pg-child.ts for
 * PostgreSQL): the rollups that `events` events over `spanMs` would leave (every topic in every minute, as many per
 * minute as the rate gives), then the store's own housekeeping (`rollups.rollUp`) deriving hours and days and pruning
 * minutes past their retention, as a hub running that long would have done. The baseline is the store's stats
 * methods called in this process: the same SQL and marks as the hub, without HTTP and JSON.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { importDist } from "./dist.js";
import { summarize, type Summary } from "./stats.js";

/** The retentions of the hub's defaults (docs/configuration.md): minutes 7 days, hours 90 days, days forever. */
const RETENTION = { minuteRetentionMs: 7 * 86_400_000, hourRetentionMs: 90 * 86_400_000, dayRetentionMs: 0 };
const MINUTE_MS = 60_000;
/** The UTF-8 size of the query bench's event data, about. */
const BYTES_PER_EVENT = 90;

/** The sum over every subscription, which the store writes at commit under subscription '' (see ALL_SUBSCRIPTIONS). */
const SUM_OVER_SUBSCRIPTIONS = `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
  SELECT res, t, '', sum(delivered), sum(failed), sum(dead), sum(latency_sum), sum(h0), sum(h1), sum(h2), sum(h3), sum(h4), sum(h5), sum(h6),
    sum(h7), sum(h8), sum(h9)
  FROM delivery_rollups GROUP BY res, t`;

/** The sum over every topic, which the store writes at commit under topic '' (see ALL_TOPICS). */
const SUM_OVER_TOPICS = `INSERT INTO event_rollups (res, t, topic, type, count, bytes)
  SELECT res, t, '', type, sum(count), sum(bytes) FROM event_rollups GROUP BY res, t, type`;

/** What {@link fillRollups} writes. */
export interface StatsFillOptions {
  /** `sqlite:PATH` or `postgres://…` (an empty database: the store's migrations run first). */
  databaseUrl: string;
  topics: string[];
  /** Subscriptions with delivery minutes (about one attempt per event of one topic each, most delivered). */
  subscriptions: string[];
  /** Events over the span, spread evenly over the topics and minutes. */
  events: number;
  /** The span ends at `end` (a minute boundary, the hub's "now"). */
  end: number;
  spanMs: number;
}

/** What {@link fillRollups} answers. */
export interface StatsFillResult {
  seconds: number;
  /** Rows per resolution after the housekeeping, of event_rollups and delivery_rollups. */
  rows: Record<string, number>;
}

/** Writes the minute rollups of the span, then runs the store's housekeeping at `end`. */
export async function fillRollups(o: StatsFillOptions): Promise<StatsFillResult> {
  const t0 = performance.now();
  const { openStore } = await importDist<typeof import("../../src/store/index.js")>("store/index.js");
  const store = await openStore(o.databaseUrl);
  const firstMinute = (o.end - o.spanMs) / MINUTE_MS;
  const minutes = o.spanMs / MINUTE_MS;
  const perTopicMinute = o.events / (o.topics.length * minutes);
  try {
    if (o.databaseUrl.startsWith("postgres")) await fillPg(o.databaseUrl, o, firstMinute, minutes, perTopicMinute);
    else fillSqlite(o.databaseUrl.replace(/^sqlite:/, ""), o, firstMinute, minutes, perTopicMinute);
    await store.rollups.rollUp({ now: o.end, ...RETENTION });
  } finally {
    await store.close();
  }
  // Statistics of the derived hours and days too, as autovacuum would have them after a month.
  if (o.databaseUrl.startsWith("postgres")) await vacuumAnalyze(o.databaseUrl);
  return { seconds: (performance.now() - t0) / 1000, rows: await countRows(o.databaseUrl) };
}

function fillSqlite(path: string, o: StatsFillOptions, firstMinute: number, minutes: number, perTopicMinute: number): void {
  const db = new Database(path);
  try {
    const event = db.prepare(`INSERT INTO event_rollups (res, t, topic, type, count, bytes) VALUES (60000, ?, ?, 'bench.event', ?, ?)`);
    const delivery = db.prepare(
      `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
       VALUES (60000, ?, ?, ?, ?, 0, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0)`,
    );
    let seed = 1;
    // A fixed sequence: the same fill for every run.
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const fill = db.transaction((from: number, to: number) => {
      for (let m = from; m < to; m++) {
        const t = m * MINUTE_MS;
        for (const topic of o.topics) {
          const count = Math.floor(perTopicMinute + random());
          if (count > 0) event.run(t, topic, count, count * BYTES_PER_EVENT);
        }
        for (const id of o.subscriptions) {
          const count = Math.max(1, Math.floor(perTopicMinute + random()));
          delivery.run(t, id, count, count > 1 ? 1 : 0, count * 12.5, count - 1, 1);
        }
      }
    });
    for (let m = firstMinute; m < firstMinute + minutes; m += 1440) fill(m, Math.min(firstMinute + minutes, m + 1440));
    db.exec(SUM_OVER_SUBSCRIPTIONS);
    db.exec(SUM_OVER_TOPICS);
  } finally {
    db.close();
  }
}

async function fillPg(url: string, o: StatsFillOptions, firstMinute: number, minutes: number, perTopicMinute: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SELECT setseed(0.5)`);
    await client.query(
      `INSERT INTO event_rollups (res, t, topic, type, count, bytes)
       SELECT 60000, m * 60000, topic, 'bench.event', c, c * $4 FROM generate_series($1::bigint, $2::bigint - 1) m,
         unnest($3::text[]) topic, LATERAL (SELECT floor($5::float8 + random())::bigint + (m * 0) AS c) x WHERE c > 0`,
      [firstMinute, firstMinute + minutes, o.topics, BYTES_PER_EVENT, perTopicMinute],
    );
    await client.query(
      `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
       SELECT 60000, m * 60000, id, c, CASE WHEN c > 1 THEN 1 ELSE 0 END, 0, c * 12.5, c - 1, 1, 0, 0, 0, 0, 0, 0, 0, 0
       FROM generate_series($1::bigint, $2::bigint - 1) m, unnest($3::text[]) id,
         LATERAL (SELECT greatest(1, floor($4::float8 + random())::bigint + (m * 0)) AS c) x`,
      [firstMinute, firstMinute + minutes, o.subscriptions, perTopicMinute],
    );
    await client.query(SUM_OVER_SUBSCRIPTIONS);
    await client.query(SUM_OVER_TOPICS);
  } finally {
    await client.end();
  }
}

async function vacuumAnalyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`VACUUM (ANALYZE) event_rollups`);
    await client.query(`VACUUM (ANALYZE) delivery_rollups`);
  } finally {
    await client.end();
  }
}

async function countRows(databaseUrl: string): Promise<Record<string, number>> {
  const sql = `SELECT 'events ' || res AS k, count(*) AS n FROM event_rollups GROUP BY res
               UNION ALL SELECT 'deliveries ' || res, count(*) FROM delivery_rollups GROUP BY res`;
  let rows: Array<{ k: string; n: number | string }>;
  if (databaseUrl.startsWith("postgres")) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      rows = (await client.query<{ k: string; n: string }>(sql)).rows;
    } finally {
      await client.end();
    }
  } else {
    const db = new Database(databaseUrl.replace(/^sqlite:/, ""), { readonly: true });
    rows = db.prepare(sql).all() as Array<{ k: string; n: number }>;
    db.close();
  }
  const names: Record<string, string> = { "60000": "minute", "3600000": "hour", "86400000": "day" };
  return Object.fromEntries(rows.map((r) => [r.k.replace(/\d+$/, (res) => names[res] ?? res), Number(r.n)]));
}

/** One stats request, as the HTTP path the hub gets and the store query the baseline runs. */
export interface StatsRequest {
  path: string;
  kind: "events" | "deliveries";
  query: {
    from: number;
    to: number;
    intervalMs: number;
    topics?: string[];
    groupBy?: Array<"topic" | "type">;
    subscriptionId?: string;
  };
}

/** Runs each request's store query in turn (the first `warmup` not counted) and times it. */
export async function statsDirect(o: { databaseUrl: string; requests: StatsRequest[]; warmup: number }): Promise<{ latency: Summary; meanRows: number }> {
  const { openStore } = await importDist<typeof import("../../src/store/index.js")>("store/index.js");
  const store = await openStore(o.databaseUrl);
  const latencies: number[] = [];
  let rows = 0;
  try {
    for (let i = 0; i < o.requests.length; i++) {
      const r = o.requests[i]!;
      const t = performance.now();
      const n = r.kind === "events" ? (await store.rollups.eventStats(r.query)).length : (await store.rollups.deliveryStats(r.query)).length;
      const ms = performance.now() - t;
      if (i < o.warmup) continue;
      latencies.push(ms);
      rows += n;
    }
  } finally {
    await store.close();
  }
  return { latency: summarize(latencies), meanRows: rows / Math.max(1, latencies.length) };
}
