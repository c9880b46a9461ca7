/**
 * What `hub.outbox.publish` adds to the application's transaction on PostgreSQL: the same transaction (BEGIN; an
 * order INSERT; COMMIT) on one client, without the outbox, with the outbox, and with a bare extra round trip
 * (`SELECT 1`) as the yardstick of "one round trip". Arms interleaved ABCCBA; each transaction timed alone, the
 * medians and p99 of every arm reported, with the queries each transaction sent (counted on the client).
 * The hub is closed while the arms run (its outbox still writes: a closed hub only stops relaying), so its relay
 * does not share the process with the measurement; a new hub then relays every row, and the run checks that each
 * event was stored once.
 *
 * The application's session runs with `synchronous_commit` off (`BENCH_SYNC_COMMIT=on` keeps it): the WAL flush at
 * COMMIT is the same in every arm and, on a shared disk, larger than what the arms differ by.
 *
 *   npx tsx bench/outbox-txn.ts [transactions per arm and round, default 2000] [rounds, default 2]
 */
import pg from "pg";
import { createHub } from "../src/hub.js";
import { createDatabase, dropDatabase } from "./lib/pg-server.js";

type Arm = "plain" | "outbox" | "select1";

const perRound = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 2);
const database = `switchboard_bench_outbox_${process.pid}`;

/** Runs `count` transactions of `arm`; returns each one's duration in ms and the queries one sent. */
async function runArm(client: pg.Client, hub: Awaited<ReturnType<typeof createHub>>, arm: Arm, count: number, serial: { n: number; outbox: number }) {
  const times: number[] = [];
  let queries = 0;
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { query: typeof query }).query = (...args: unknown[]) => {
    queries++;
    return query(...args);
  };
  try {
    for (let i = 0; i < count; i++) {
      const n = serial.n++;
      const started = process.hrtime.bigint();
      await client.query("BEGIN");
      await client.query("INSERT INTO orders (id, total) VALUES ($1, $2)", [`o-${n}`, n]);
      if (arm === "outbox") {
        await hub.outbox.publish(client, { topic: "orders.created", key: `o-${n}`, data: { id: `o-${n}`, total: n } });
        serial.outbox++;
      }
      if (arm === "select1") await client.query("SELECT 1");
      await client.query("COMMIT");
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    delete (client as unknown as { query?: unknown }).query;
  }
  return { times, queriesPerTxn: queries / count };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

const url = await createDatabase(database);
try {
  const hub = await createHub({ databaseUrl: url, logLevel: "silent" });
  await hub.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("CREATE TABLE orders (id text PRIMARY KEY, total bigint NOT NULL)");
  // The commit's WAL flush is the same in every arm and, on a busy disk, larger than what the arms differ by.
  if (process.env.BENCH_SYNC_COMMIT !== "on") await client.query("SET synchronous_commit TO off");
  const times: Record<Arm, number[]> = { plain: [], outbox: [], select1: [] };
  const queries: Partial<Record<Arm, number>> = {};
  const serial = { n: 0, outbox: 0 };
  // Warm-up: prepared plans, the pg client, JIT.
  for (const arm of ["plain", "outbox", "select1"] as const) await runArm(client, hub, arm, 200, serial);
  for (let r = 0; r < rounds; r++) {
    for (const arm of ["plain", "outbox", "select1", "select1", "outbox", "plain"] as const) {
      const run = await runArm(client, hub, arm, perRound, serial);
      times[arm].push(...run.times);
      queries[arm] = run.queriesPerTxn;
    }
  }
  await client.end();
  const rows = (["plain", "select1", "outbox"] as const).map((arm) => {
    const sorted = times[arm].sort((a, b) => a - b);
    return { arm, txns: sorted.length, queriesPerTxn: queries[arm], p50Ms: +quantile(sorted, 0.5).toFixed(3), p99Ms: +quantile(sorted, 0.99).toFixed(3) };
  });
  console.table(rows);
  const p50 = Object.fromEntries(rows.map((row) => [row.arm, row.p50Ms])) as Record<Arm, number>;
  console.log(
    `outbox adds ${(p50.outbox - p50.plain).toFixed(3)} ms at p50; a bare round trip (SELECT 1) adds ${(p50.select1 - p50.plain).toFixed(3)} ms; ` +
      `queries per transaction: ${queries.plain} → ${queries.outbox}`,
  );

  // Every row written by the outbox arms is relayed by the next hub, once.
  const relayStarted = Date.now();
  const relay = await createHub({ databaseUrl: url, logLevel: "silent" });
  const check = new pg.Client({ connectionString: url });
  await check.connect();
  for (;;) {
    const { rows: left } = await check.query<{ n: string }>("SELECT count(*) AS n FROM outbox");
    if (Number(left[0]!.n) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const relayMs = Date.now() - relayStarted;
  const { rows: stored } = await check.query<{ n: string; ids: string }>(
    "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events WHERE topic = 'orders.created'",
  );
  console.log(`relayed ${stored[0]!.n} events (${stored[0]!.ids} distinct ids) in ${relayMs} ms after the restart; outbox rows written: ${serial.outbox}`);
  await check.end();
  await relay.close();
} finally {
  await dropDatabase(database);
}
