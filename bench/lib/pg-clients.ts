import { importDist } from "./dist.js";
import { APPEND_LOCK, APPEND_SQL, PG_TYPES } from "./pg-bench-store.js";
import { databaseUrl, readPostgresCpuSeconds } from "./pg-server.js";
import { seededRandom, summarize, type Summary } from "./stats.js";

/** The two PostgreSQL client libraries compared: node-postgres (`pg`, the store's) and porsager's `postgres`. */
export type PgClientName = "pg" | "postgres";

/** The store's `getEvent`. */
const EVENT_BY_ID_SQL = `SELECT * FROM events WHERE id = $1`;

/**
 * One library behind the calls of the workloads, each used the way the store would: a pool of `max` connections,
 * int8 read as numbers, statements prepared once per connection (pg: named statements; postgres: its default).
 */
interface Driver {
  /**
   * The store's append shape on one connection: `BEGIN; SELECT pg_advisory_xact_lock(…)` as one simple query, the
   * append statement with the store's 12 parameters, COMMIT. Resolves to the rows inserted.
   */
  append(values: unknown[]): Promise<number>;
  /** One point SELECT by id; resolves to the rows read. */
  eventById(id: string): Promise<number>;
  /** Every event id of the database. */
  allIds(): Promise<string[]>;
  close(): Promise<void>;
}

const BEGIN_LOCKED = `BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK})`;

async function openDriver(name: PgClientName, url: string, max: number): Promise<Driver> {
  if (name === "pg") {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: url, max, types: PG_TYPES });
    pool.on("error", () => {});
    return {
      async append(values) {
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          await client.query(BEGIN_LOCKED);
          const { rows } = await client.query({ name: "switchboard_append", text: APPEND_SQL, values });
          await client.query("COMMIT");
          return rows.length;
        } catch (error) {
          await client.query("ROLLBACK").catch((e: Error) => (broken = e));
          throw error;
        } finally {
          client.release(broken);
        }
      },
      async eventById(id) {
        return (await pool.query({ name: "event_by_id", text: EVENT_BY_ID_SQL, values: [id] })).rows.length;
      },
      async allIds() {
        return (await pool.query<{ id: string }>(`SELECT id FROM events`)).rows.map((r) => r.id);
      },
      close: () => pool.end(),
    };
  }
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    types: { int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } } as any,
  });
  return {
    async append(values) {
      // reserve(): one connection for the transaction, so that BEGIN and the lock can go as one simple query as
      // the store sends them (sql.begin() would send BEGIN alone: one more round trip).
      const tx = await sql.reserve();
      try {
        await tx.unsafe(BEGIN_LOCKED).simple();
        const rows = await tx.unsafe(APPEND_SQL, values as any[], { prepare: true });
        await tx.unsafe("COMMIT");
        return rows.length;
      } catch (error) {
        await tx.unsafe("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        tx.release();
      }
    },
    async eventById(id) {
      return (await sql.unsafe(EVENT_BY_ID_SQL, [id], { prepare: true })).length;
    },
    async allIds() {
      return (await sql.unsafe<{ id: string }[]>(`SELECT id FROM events`)).map((r) => r.id);
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** What one client workload measured, over its timed phase only. */
export interface ClientRun {
  /** Events stored (appends) or queries answered, per second. */
  perSec: number;
  /** Transactions (appends) or queries, per second. */
  opsPerSec: number;
  seconds: number;
  /** Per transaction or query, ms. */
  latency: Summary;
  /** CPU of this process (the client library) and of PostgreSQL on this database, % of one core. */
  clientCpuPct: number;
  postgresCpuPct: number;
}

/**
 * `concurrency` lanes, each running `op` back to back, for `warmupS` and then timed for `durationS`. `op` resolves
 * to the units it did (events stored, rows read).
 */
async function closedLoop(
  o: { database: string; concurrency: number; durationS: number; warmupS: number },
  op: (lane: number) => Promise<number>,
): Promise<ClientRun> {
  const phase = async (seconds: number, latencies?: number[]) => {
    const end = performance.now() + seconds * 1000;
    let units = 0;
    let ops = 0;
    await Promise.all(
      Array.from({ length: o.concurrency }, async (_, lane) => {
        while (performance.now() < end) {
          const t = performance.now();
          const done = await op(lane); // not `units += await …`: that reads units before the await
          units += done;
          latencies?.push(performance.now() - t);
          ops++;
        }
      }),
    );
    return { units, ops };
  };
  await phase(o.warmupS);
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const pg0 = readPostgresCpuSeconds(o.database);
  const t0 = performance.now();
  const { units, ops } = await phase(o.durationS, latencies);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    perSec: units / seconds,
    opsPerSec: ops / seconds,
    seconds,
    latency: summarize(latencies),
    clientCpuPct: (cpu.user + cpu.system) / 1e4 / seconds,
    postgresCpuPct: (100 * (readPostgresCpuSeconds(o.database) - pg0)) / seconds,
  };
}

/**
 * Appends through one library: `concurrency` transactions at a time, each the store's shape (see {@link Driver.append})
 * with `eventsPerTx` events of the store's 12 parameters (fresh ULID ids, the given data text, topic created if
 * missing). The transactions serialize on the advisory lock, as the store's do; what differs between libraries is
 * the client's own cost and how fast it turns a connection around.
 */
export async function clientAppend(args: {
  client: PgClientName;
  database: string;
  eventsPerTx: number;
  concurrency: number;
  durationS: number;
  warmupS: number;
  topic: string;
  dataJson: string[];
}): Promise<ClientRun> {
  const { newEventId } = await importDist<typeof import("../../src/ids.js")>("ids.js");
  const driver = await openDriver(args.client, databaseUrl(args.database), args.concurrency);
  const n = args.eventsPerTx;
  const nulls = new Array<null>(n).fill(null);
  const topics = new Array<string>(n).fill(args.topic);
  const data = Array.from({ length: n }, (_, j) => args.dataJson[j % args.dataJson.length]!);
  try {
    return await closedLoop(args, async () => {
      const now = Date.now();
      const ids = Array.from({ length: n }, () => newEventId(now));
      const times = new Array<number>(n).fill(now);
      // APPEND_SQL's parameters in order: $1–$11 the events' columns, $12 now, $13 createTopics, $14 the captured headers.
      const stored = await driver.append([ids, topics, nulls, nulls, nulls, times, nulls, data, nulls, times, nulls, now, true, nulls]);
      if (stored !== n) throw new Error(`the append stored ${stored} of ${n} events`);
      return n;
    });
  } finally {
    await driver.close();
  }
}

/** Point SELECTs by id (the store's getEvent) through one library, `concurrency` at a time, random stored ids. */
export async function clientSelect(args: {
  client: PgClientName;
  database: string;
  concurrency: number;
  durationS: number;
  warmupS: number;
}): Promise<ClientRun> {
  const driver = await openDriver(args.client, databaseUrl(args.database), args.concurrency);
  try {
    const ids = await driver.allIds();
    if (ids.length === 0) throw new Error("no events to select");
    const randoms = Array.from({ length: args.concurrency }, (_, lane) => seededRandom(lane + 1));
    return await closedLoop(args, async (lane) => {
      const rows = await driver.eventById(ids[Math.floor(randoms[lane]!() * ids.length)]!);
      if (rows !== 1) throw new Error(`a point SELECT read ${rows} rows`);
      return 1;
    });
  } finally {
    await driver.close();
  }
}
