import Database from "better-sqlite3";
import { importDist } from "./dist.js";
import { INSERT_EVENT_SQL, openBaselineDb, TOPIC_RANGE_SQL } from "./sqlite-baseline.js";
import { seededRandom, summarize, type Summary } from "./stats.js";

/** One `GET /api/events?topic=&from=&to=` window. */
export interface QueryWindow {
  topic: string;
  from: number;
  to: number;
}

/** Options of {@link prefillEvents}. */
export interface PrefillOptions {
  path: string;
  count: number;
  topics: string[];
  /** Events are spread over [end − spanMs, end). */
  end: number;
  spanMs: number;
  seed: number;
}

/**
 * Writes `count` events over `topics`, evenly spread (with jitter) in time and in seq order, into a new store
 * file. The schema comes from the store itself (openSqliteStore + migrate); rows go in by 50,000 per transaction.
 */
export async function prefillEvents(o: PrefillOptions): Promise<{ seconds: number }> {
  const t0 = performance.now();
  const { openSqliteStore } = await importDist<typeof import("../../src/store/index.js")>("store/index.js");
  const { newEventId } = await importDist<typeof import("../../src/ids.js")>("ids.js");
  const store = openSqliteStore({ path: o.path });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
  const db = new Database(o.path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const insert = db.prepare(INSERT_EVENT_SQL);
  const random = seededRandom(o.seed);
  const start = o.end - o.spanMs;
  const step = o.spanMs / o.count;
  const counts = new Map<string, { n: number; last: number }>(o.topics.map((t) => [t, { n: 0, last: 0 }]));
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const time = Math.floor(start + (i + random()) * step);
      const topic = o.topics[Math.floor(random() * o.topics.length)]!;
      const data = `{"msg":"data","n":${i},"user_id":${Math.floor(random() * 10_000)},"timestamp":"${Math.floor(time / 1000)}"}`;
      insert.run(i + 1, newEventId(time), topic, "bench.event", null, null, time, null, data, null, time, null, null);
      const c = counts.get(topic)!;
      c.n++;
      c.last = time;
    }
  });
  for (let i = 0; i < o.count; i += 50_000) fill(i, Math.min(o.count, i + 50_000));
  const topic = db.prepare(`INSERT INTO topics (name, created_at, updated_at, event_count, last_event_at) VALUES (?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (const [name, c] of counts) topic.run(name, start, start, c.n, c.last);
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return { seconds: (performance.now() - t0) / 1000 };
}

/**
 * The baseline of the query bench: the SQL the store builds, prepared once and run straight on better-sqlite3
 * (store pragmas, its own connection), timed per query. The first `warmup` queries are not counted.
 */
export async function queryDirect(o: {
  path: string;
  windows: QueryWindow[];
  limit: number;
  warmup: number;
}): Promise<{ latency: Summary; meanRows: number; plan: string[] }> {
  const db = await openBaselineDb(o.path);
  try {
    const stmt = db.prepare(TOPIC_RANGE_SQL);
    const first = o.windows[0]!;
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${TOPIC_RANGE_SQL}`).all(first.topic, first.from, first.to, o.limit) as { detail: string }[]).map(
      (r) => r.detail,
    );
    const latencies: number[] = [];
    let rows = 0;
    o.windows.forEach((w, i) => {
      const t = performance.now();
      const n = stmt.all(w.topic, w.from, w.to, o.limit).length;
      const ms = performance.now() - t;
      if (i < o.warmup) return;
      latencies.push(ms);
      rows += n;
    });
    return { latency: summarize(latencies), meanRows: rows / Math.max(1, latencies.length), plan };
  } finally {
    db.close();
  }
}
