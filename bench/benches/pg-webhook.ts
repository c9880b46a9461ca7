import { join } from "node:path";
import pg from "pg";
import type { Bench, BenchContext } from "../lib/context.js";
import { GRAPHILE_CONCURRENCY, startGraphileChild, type GraphileRunResult } from "../lib/graphile-baseline.js";
import { createSubscription, WEBHOOK_HUB_ENV } from "../lib/hub-api.js";
import { createDatabase, dropDatabase, dropStaleDatabases, queryDatabase, readPostgresCpuSeconds } from "../lib/pg-server.js";
import { spawnWorker, startHub, withCpu, type ServerProcess, type Worker } from "../lib/processes.js";
import { nowAbsMs } from "../lib/receiver.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";

const TOPIC = "bench.pg-webhook";
/**
 * Subscriptions on the topic. One subscription is delivered by one worker reading the log in order; several give the
 * hub parallel readers, as a job queue's workers are parallel, and something to spread over nodes by their leases
 * (the more subscriptions, the finer the split can be). 8 × max_in_flight 32 fills the hub's default delivery
 * concurrency (256); the webhook client keeps 64 connections to the receiver.
 */
export const PG_SUBSCRIPTIONS = 8;
/** max_in_flight of each subscription. */
export const PG_MAX_IN_FLIGHT = 32;

/** One timed delivery phase of hub nodes on PostgreSQL. */
export interface HubDeliveryRun {
  events: number;
  deliveries: number;
  seconds: number;
  perSec: number;
  prefillS: number;
  /** From the first subscription's creation until every attempt was recorded (and its delivery marked delivered). */
  recordedS: number;
  attempts: number;
  /** The window of the CPU figures: from the first creation until every attempt was recorded (or the wait gave up). */
  cpuWindowS: number;
  /**
   * CPU % of one core from the first creation until every attempt was recorded, by process label (`hub`, `api`,
   * `worker1`…, `receiver`), then PostgreSQL (this database's backends and the server's own processes) and the rest.
   */
  cpuPct: Record<string, number>;
  postgresCpuPct: number;
  otherCpuPct: number;
  /** The whole machine, % of one core (it has CORES × 100). */
  machineCpuPct: number;
  /** Subscriptions held per delivering node (lease holders, most first), read after the phase. */
  leases: number[];
}

/**
 * Posts `events` events through `api` (arrays of 500), then creates {@link PG_SUBSCRIPTIONS} subscriptions with
 * `start: "beginning"` and times from the first creation until the receiver has every delivery. `nodes` are all the
 * hub processes (their CPU is measured); the subscriptions' leases are read from the database afterwards.
 */
export async function timeHubDelivery(o: {
  api: ServerProcess;
  nodes: Array<{ label: string; server: ServerProcess }>;
  client: Worker;
  receiver: Worker;
  url: string;
  database: { name: string; url: string };
  events: number;
}): Promise<HubDeliveryRun> {
  const deliveries = o.events * PG_SUBSCRIPTIONS;
  await o.receiver.call("receiverReset", { measure: false });
  const { seconds: prefillS } = await o.client.call<{ seconds: number }>(
    "postBatches",
    { origin: o.api.origin, topic: TOPIC, count: o.events, batchSize: 500, connections: 2 },
    300_000,
  );
  const poll = new pg.Client({ connectionString: o.database.url });
  poll.on("error", () => {}); // the database is dropped with it still open if the phase fails
  await poll.connect();
  const pg0 = readPostgresCpuSeconds(o.database.name);
  // The CPU window runs until every attempt is recorded, so that it holds all the work of the deliveries.
  const cpu = await withCpu([...o.nodes.map((n) => n.server.pid), o.receiver.pid], async () => {
    const t0 = nowAbsMs();
    const waiting = o.receiver.call<{ lastAtMs: number }>("receiverWait", { count: deliveries, distinct: false, timeoutMs: 300_000 }, 310_000);
    for (let i = 0; i < PG_SUBSCRIPTIONS; i++) {
      await createSubscription(o.api.origin, { topic: TOPIC, url: o.url, max_in_flight: PG_MAX_IN_FLIGHT, start: "beginning" });
    }
    const done = await waiting;
    // Attempts are written in group commits after the responses, each with its delivery's new status in the same
    // transaction: poll the (insert-only, cheap to count) attempts table until the last is there.
    let attempts = 0;
    for (const deadline = Date.now() + 60_000; attempts < deliveries && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      attempts = (await poll.query<{ n: number }>(`SELECT count(*)::int AS n FROM attempts`)).rows[0]!.n;
    }
    const recordedAtMs = nowAbsMs();
    return {
      seconds: (done.lastAtMs - t0) / 1000,
      recordedS: attempts >= deliveries ? (recordedAtMs - t0) / 1000 : NaN,
      windowS: (recordedAtMs - t0) / 1000,
      attempts,
    };
  });
  const pgPct = (100 * (readPostgresCpuSeconds(o.database.name) - pg0)) / cpu.result.windowS;
  await poll.end();
  const [{ delivered }] = await queryDatabase<{ delivered: number }>(
    o.database.url,
    `SELECT count(*)::int AS delivered FROM deliveries WHERE status = 'delivered'`,
  );
  if (delivered !== deliveries) throw new Error(`${delivered} of ${deliveries} deliveries are recorded as delivered`);
  const leases = (
    await queryDatabase<{ n: number }>(o.database.url, `SELECT count(*)::int AS n FROM subscription_leases GROUP BY node_id ORDER BY n DESC`)
  ).map((r) => r.n);
  const cpuPct: Record<string, number> = {};
  o.nodes.forEach((n, i) => (cpuPct[n.label] = cpu.pct[i]!));
  cpuPct.receiver = cpu.pct[o.nodes.length]!;
  return {
    events: o.events,
    deliveries,
    seconds: cpu.result.seconds,
    perSec: deliveries / cpu.result.seconds,
    prefillS,
    recordedS: cpu.result.recordedS,
    attempts: cpu.result.attempts,
    cpuWindowS: cpu.result.windowS,
    cpuPct,
    postgresCpuPct: pgPct,
    otherCpuPct: Number.isNaN(pgPct) ? cpu.otherPct : Math.max(0, cpu.otherPct - pgPct),
    machineCpuPct: cpu.machinePct,
    leases,
  };
}

/** CPU figures of a run as `label n%`, for logs and notes. */
export function cpuText(cpuPct: Record<string, number>, postgresPct: number, otherPct: number): string {
  return [...Object.entries(cpuPct), ["postgres", postgresPct] as const, ["others", otherPct] as const].map(([k, v]) => `${k} ${v.toFixed(0)}%`).join(", ");
}

/** Prefix of the databases of the pg-webhook benches. */
const DATABASE_PREFIX = "switchboard_bench_pgw";

/** A fresh database for one arm of one round: its name (to drop it) and URL. Leftovers of killed runs go first. */
export async function freshDatabase(label: string): Promise<{ name: string; url: string }> {
  await dropStaleDatabases(DATABASE_PREFIX);
  const name = `${DATABASE_PREFIX}_${label.replace(/[^a-z0-9]/g, "_")}_${process.pid}`;
  return { name, url: await createDatabase(name) };
}

/** Starts a hub node on PostgreSQL; the env's DATABASE_URL overrides startHub's SQLite path, which stays unused. */
export function startPgHub(ctx: BenchContext, label: string, databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startHub({
    databasePath: join(ctx.freshDir(label), "unused.db"),
    cpuProfDir: ctx.profileDir(label),
    env: { ...WEBHOOK_HUB_ENV, DATABASE_URL: databaseUrl, ...env },
  });
}

interface BaselineRun {
  jobs: number;
  seconds: number;
  perSec: number;
  /** run() → first job started: the runner's start-up, inside `seconds`. */
  startupS: number;
  queueS: number;
  graphileCpuPct: number;
  postgresCpuPct: number;
  otherCpuPct: number;
}

/**
 * Webhook delivery on PostgreSQL against graphile-worker on the same server: the hub delivers
 * {@link PG_SUBSCRIPTIONS} × N events (real HTTP to the receiver, signed, every attempt recorded); graphile-worker runs
 * as many no-op jobs, queued before the timed run. Fresh databases per arm and round.
 */
export const pgWebhookBench: Bench = {
  name: "pg-webhook",
  title: "webhook deliveries/s on PostgreSQL vs graphile-worker no-op jobs",
  async run(ctx) {
    const events = ctx.quick ? 2_500 : 12_500;
    const jobs = events * PG_SUBSCRIPTIONS;
    const client = await spawnWorker("client");
    const receiver = await spawnWorker("receiver");
    const graphile = await startGraphileChild();
    const runs: { hub: HubDeliveryRun[]; baseline: BaselineRun[] } = { hub: [], baseline: [] };
    try {
      const { port } = await receiver.call<{ port: number }>("receiverStart", { port: 0, measure: false });
      const url = `http://127.0.0.1:${port}/hook`;
      let round = 0;
      for (const kind of interleave<"baseline" | "hub">("baseline", "hub", ctx.rounds)) {
        round++;
        const db = await freshDatabase(`${kind}_${round}`);
        try {
          if (kind === "baseline") {
            const { seconds: queueS } = await graphile.call<{ seconds: number; queued: number }>("prepare", { connectionString: db.url, jobs }, 300_000);
            const pg0 = readPostgresCpuSeconds(db.name);
            const cpu = await withCpu([graphile.pid], () =>
              graphile.call<GraphileRunResult>(
                "run",
                { connectionString: db.url, jobs, concurrency: GRAPHILE_CONCURRENCY, poolSize: GRAPHILE_CONCURRENCY + 1, timeoutMs: 300_000 },
                310_000,
              ),
            );
            // Read before the runner stops: its backends take their CPU time with them when they exit.
            const pgS = readPostgresCpuSeconds(db.name) - pg0;
            const { left } = await graphile.call<{ left: number }>("stop", { connectionString: db.url });
            const g = cpu.result;
            if (g.failed > 0 || left > 0) throw new Error(`graphile-worker: ${g.failed} jobs failed, ${left} left`);
            const seconds = (g.endAtMs - g.startAtMs) / 1000;
            const pgPct = (100 * pgS) / seconds;
            const r: BaselineRun = {
              jobs,
              seconds,
              perSec: jobs / seconds,
              startupS: (g.firstJobAtMs - g.startAtMs) / 1000,
              queueS,
              graphileCpuPct: cpu.pct[0]!,
              postgresCpuPct: pgPct,
              otherCpuPct: Number.isNaN(pgPct) ? cpu.otherPct : Math.max(0, cpu.otherPct - pgPct),
            };
            runs.baseline.push(r);
            ctx.log(
              `graphile ${Math.round(r.perSec)} jobs/s (${jobs} in ${seconds.toFixed(2)} s, ${(r.startupS * 1000).toFixed(0)} ms of it start-up; queued in ${queueS.toFixed(1)} s; ` +
                `cpu: ${cpuText({ graphile: r.graphileCpuPct }, r.postgresCpuPct, r.otherCpuPct)})`,
            );
            continue;
          }
          const hub = await startPgHub(ctx, `pg-webhook-hub-${round}`, db.url);
          try {
            const r = await timeHubDelivery({ api: hub, nodes: [{ label: "hub", server: hub }], client, receiver, url, database: db, events });
            runs.hub.push(r);
            ctx.log(
              `hub      ${Math.round(r.perSec)} deliveries/s (${r.deliveries} in ${r.seconds.toFixed(2)} s, all recorded at ${r.recordedS.toFixed(2)} s, ${r.attempts} attempts; ` +
                `${r.events} events posted in ${r.prefillS.toFixed(1)} s; cpu: ${cpuText(r.cpuPct, r.postgresCpuPct, r.otherCpuPct)}; machine ${r.machineCpuPct.toFixed(0)}%)`,
            );
          } finally {
            await hub.stop();
          }
        } finally {
          await dropDatabase(db.name);
        }
      }
    } finally {
      await receiver.call("receiverStop", null).catch(() => undefined);
      await Promise.all([client.close(), receiver.close(), graphile.close()]);
    }
    const hub = runs.hub.reduce((a, b) => (b.perSec > a.perSec ? b : a));
    const base = runs.baseline.reduce((a, b) => (b.perSec > a.perSec ? b : a));
    // CPU µs per delivery or job: % of a core × the CPU window / the count.
    const hubUs = (pct: number) => (pct * hub.cpuWindowS * 1e4) / hub.deliveries;
    const baseUs = (pct: number) => (pct * base.seconds * 1e4) / base.jobs;
    return {
      rows: [
        row({
          bench: "pg-webhook",
          metric: `deliveries/s on PostgreSQL, ${PG_SUBSCRIPTIONS} subscriptions × ${events} events, max_in_flight ${PG_MAX_IN_FLIGHT} (vs graphile-worker, ${jobs} no-op jobs, concurrency ${GRAPHILE_CONCURRENCY})`,
          unit: "/s",
          hub: hub.perSec,
          baseline: base.perSec,
          target: { on: "ratio", op: ">=", value: 1.0 },
          note:
            `cpu: hub run ${cpuText(hub.cpuPct, hub.postgresCpuPct, hub.otherCpuPct)}; ` +
            `graphile run ${cpuText({ graphile: base.graphileCpuPct }, base.postgresCpuPct, base.otherCpuPct)}; ` +
            `hub: received in ${hub.seconds.toFixed(2)} s, all attempts recorded at ${hub.recordedS.toFixed(2)} s; graphile: ${base.seconds.toFixed(2)} s, ${(base.startupS * 1000).toFixed(0)} ms of it start-up`,
        }),
        row({
          bench: "pg-webhook",
          metric: "deliveries/s until every attempt is recorded (vs graphile-worker, same rounds)",
          unit: "/s",
          hub: hub.deliveries / hub.recordedS,
          baseline: base.perSec,
          target: null,
        }),
        row({
          bench: "pg-webhook",
          metric: "PostgreSQL CPU per delivery / per job (same rounds)",
          unit: "µs",
          hub: hubUs(hub.postgresCpuPct),
          baseline: baseUs(base.postgresCpuPct),
          target: null,
        }),
        row({
          bench: "pg-webhook",
          metric: "hub CPU per delivery / graphile-worker CPU per job (same rounds)",
          unit: "µs",
          hub: hubUs(hub.cpuPct.hub!),
          baseline: baseUs(base.graphileCpuPct),
          target: null,
        }),
      ],
      details: { events, subscriptions: PG_SUBSCRIPTIONS, maxInFlight: PG_MAX_IN_FLIGHT, jobs, graphileConcurrency: GRAPHILE_CONCURRENCY, runs },
    };
  },
};
