import pg from "pg";
import { importDist } from "./dist.js";
import { openMigratedPgStore, partitionGuard, PG_TYPES } from "./pg-bench-store.js";
import { databaseUrl, readPostgresCpuSeconds } from "./pg-server.js";

const COLUMNS = 10;

/**
 * `rows` rows in one multi-row INSERT … VALUES, seq from the sequence as the store takes it. Measured against
 * INSERT … SELECT FROM unnest(arrays) of the same rows, it was about 10% faster.
 */
function multiRowInsert(rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p = Array.from({ length: COLUMNS }, (_, c) => `$${r * COLUMNS + c + 1}`);
    values.push(`(nextval('events_seq'), ${p.join(", ")})`);
  }
  return `INSERT INTO events (seq, id, topic, type, source, subject, time, key, data, attributes, received_at) VALUES ${values.join(", ")}`;
}

/** What {@link rawPgInsert} measured. */
export interface RawPgInsertResult {
  eventsPerSec: number;
  events: number;
  durationS: number;
  /** CPU of this process and of PostgreSQL (on this database) over the timed part, % of one core. */
  clientCpuPct: number;
  postgresCpuPct: number;
  /**
   * CPU seconds of PostgreSQL on the database over the whole call, read before the connection closes: its backend
   * has exited by the time the caller reads /proc, so the caller takes this out of its "others".
   */
  postgresCpuSecondsInCall: number;
}

/**
 * The raw PostgreSQL baseline of batch ingest: in a database of its own, the hub's schema (the store's migrate()),
 * then rows shaped as the hub stores them (fresh ULID ids, the same data text), `batchSize` per transaction, each
 * batch one multi-row INSERT (a prepared statement) in autocommit, back to back on one connection, for `durationS`
 * after `warmupS`. One writer, as the hub's appends are one at a time under the store's append lock.
 */
export async function rawPgInsert(args: {
  database: string;
  batchSize: number;
  topic: string;
  dataJson: string[];
  durationS: number;
  warmupS: number;
}): Promise<RawPgInsertResult> {
  const { newEventId } = await importDist<typeof import("../../src/ids.js")>("ids.js");
  const url = databaseUrl(args.database);
  const pgAtEntry = readPostgresCpuSeconds(args.database);
  const store = await openMigratedPgStore(url);
  const client = new pg.Client({ connectionString: url, types: PG_TYPES });
  await client.connect();
  try {
    const guard = await partitionGuard(store, client);
    const text = multiRowInsert(args.batchSize);
    const values: unknown[] = new Array(args.batchSize * COLUMNS);
    const insertBatch = async () => {
      const now = Date.now();
      for (let j = 0; j < args.batchSize; j++) {
        const o = j * COLUMNS;
        values[o] = newEventId(now);
        values[o + 1] = args.topic;
        values[o + 2] = null;
        values[o + 3] = null;
        values[o + 4] = null;
        values[o + 5] = now;
        values[o + 6] = null;
        values[o + 7] = args.dataJson[j % args.dataJson.length]!;
        values[o + 8] = null;
        values[o + 9] = now;
      }
      await guard.reserve(args.batchSize);
      await client.query({ name: "bench_raw_insert", text, values });
    };
    const run = async (seconds: number) => {
      const t0 = performance.now();
      const end = t0 + seconds * 1000;
      let events = 0;
      while (performance.now() < end) {
        await insertBatch();
        events += args.batchSize;
      }
      return { events, seconds: (performance.now() - t0) / 1000 };
    };
    await run(args.warmupS);
    const cpu0 = process.cpuUsage();
    const pg0 = readPostgresCpuSeconds(args.database);
    const { events, seconds } = await run(args.durationS);
    const cpu = process.cpuUsage(cpu0);
    const pgAtEnd = readPostgresCpuSeconds(args.database);
    return {
      eventsPerSec: events / seconds,
      events,
      durationS: seconds,
      clientCpuPct: (cpu.user + cpu.system) / 1e4 / seconds,
      postgresCpuPct: (100 * (pgAtEnd - pg0)) / seconds,
      postgresCpuSecondsInCall: pgAtEnd - pgAtEntry,
    };
  } finally {
    await client.end();
    await store.close();
  }
}
