import { join } from "node:path";
import type { Bench, BenchContext, BenchOutcome } from "../lib/context.js";
import { createDatabase, databaseUrl, dropDatabase, readPostgresCpuSeconds } from "../lib/pg-server.js";
import { startPgHub } from "../lib/pg-hub.js";
import { spawnPgChild } from "../lib/pg-spawn.js";
import { readCpuSeconds, readMachineBusySeconds, readMinorFaults, spawnWorker, startHub, type ServerProcess, type Worker } from "../lib/processes.js";
import { row, type ResultRow } from "../lib/report.js";
import type { StatsFillResult, StatsRequest } from "../lib/stats-fill.js";
import { interleave, seededRandom, type Summary } from "../lib/stats.js";

const TOPICS = Array.from({ length: 20 }, (_, i) => `bench.topic.${String(i).padStart(2, "0")}`);
const SUBSCRIPTIONS = Array.from({ length: 20 }, (_, i) => `bench-sub-${String(i).padStart(2, "0")}`);
const DAY_MS = 86_400_000;
const SPAN_MS = 30 * DAY_MS;

/** The request shapes, each timed on its own: the console's charts and the usual dashboard queries. */
const SHAPES: Array<{ name: string; make: (random: () => number, end: number) => StatsRequest }> = [
  {
    name: "events, 1 topic, 30 d at 1h",
    make: (random, end) => events(end - SPAN_MS, end, "1h", { topics: [pick(random, TOPICS)] }),
  },
  {
    name: "events, every topic, 30 d at 1d by topic",
    make: (_, end) => events(end - SPAN_MS, end, "1d", { groupBy: ["topic"] }),
  },
  {
    name: "events, 1 topic, 24 h at 1m",
    make: (random, end) => {
      const to = end - Math.floor(random() * 6 * 24) * 3_600_000;
      return events(to - DAY_MS, to, "1m", { topics: [pick(random, TOPICS)] });
    },
  },
  {
    name: "events, every topic, 24 h at 5m",
    make: (random, end) => {
      const to = end - Math.floor(random() * 6 * 24) * 3_600_000;
      return events(to - DAY_MS, to, "5m", {});
    },
  },
  {
    name: "deliveries, every subscription, 30 d at 1h",
    make: (_, end) => ({
      kind: "deliveries",
      path: statsPath("deliveries", end - SPAN_MS, end, "1h", {}),
      query: { from: end - SPAN_MS, to: end, intervalMs: 3_600_000 },
    }),
  },
  {
    name: "deliveries, 1 subscription, 24 h at 1m",
    make: (random, end) => {
      const id = pick(random, SUBSCRIPTIONS);
      const to = end - Math.floor(random() * 6 * 24) * 3_600_000;
      return {
        kind: "deliveries",
        path: statsPath("deliveries", to - DAY_MS, to, "1m", { subscription: id }),
        query: { from: to - DAY_MS, to, intervalMs: 60_000, subscriptionId: id },
      };
    },
  },
];

const INTERVAL_MS: Record<string, number> = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": DAY_MS };

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function statsPath(kind: "events" | "deliveries", from: number, to: number, interval: string, params: Record<string, string>): string {
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), interval, ...params });
  return `/api/stats/${kind}?${q}`;
}

function events(from: number, to: number, interval: string, o: { topics?: string[]; groupBy?: Array<"topic"> }): StatsRequest {
  const params: Record<string, string> = {};
  if (o.topics) params.topic = o.topics.join(",");
  if (o.groupBy) params.group_by = o.groupBy.join(",");
  return { kind: "events", path: statsPath("events", from, to, interval, params), query: { from, to, intervalMs: INTERVAL_MS[interval]!, ...o } };
}

interface ShapeRun {
  latency: Summary;
  meanRows: number;
  /**
   * Hub arm only: CPU per request (warm-up included), ms, of the hub, the client (which also parses each answer, after
   * timing it), PostgreSQL (its backends of the bench's database; 0 on SQLite) and the machine's other processes.
   */
  cpuMs?: { hub: number; client: number; postgres: number; others: number };
  /** Hub arm only: minor page faults per request (warm-up included) of the hub and the client. */
  faults?: { hub: number; client: number };
}

/** Runs the client's requests against the hub, with the CPU each process used per request (from /proc). */
async function timeHub(server: ServerProcess, client: Worker, paths: string[], warmup: number, database?: string): Promise<ShapeRun> {
  const postgresCpu = () => (database === undefined ? 0 : readPostgresCpuSeconds(database));
  const pg0 = postgresCpu();
  const hub0 = readCpuSeconds(server.pid);
  const client0 = readCpuSeconds(client.pid);
  const faults0 = [readMinorFaults(server.pid), readMinorFaults(client.pid)];
  const machine0 = readMachineBusySeconds();
  const own0 = process.cpuUsage();
  const r = await client.call<ShapeRun>("queries", { origin: server.origin, paths, warmup, maxMs: 120_000 }, 180_000);
  const own = process.cpuUsage(own0);
  const requests = warmup + r.latency.count;
  const faults = { hub: (readMinorFaults(server.pid) - faults0[0]!) / requests, client: (readMinorFaults(client.pid) - faults0[1]!) / requests };
  const hub = readCpuSeconds(server.pid) - hub0;
  const cli = readCpuSeconds(client.pid) - client0;
  // A backend that exits takes its time with it (see readPostgresCpuSeconds): a negative difference is unknown.
  const pgDelta = postgresCpu() - pg0;
  const postgres = pgDelta < 0 ? NaN : pgDelta;
  const others = Math.max(0, readMachineBusySeconds() - machine0 - hub - cli - (Number.isFinite(postgres) ? postgres : 0) - (own.user + own.system) / 1e6);
  const per = (seconds: number) => (1000 * seconds) / requests;
  return { ...r, cpuMs: { hub: per(hub), client: per(cli), postgres: per(postgres), others: per(others) }, faults };
}

/**
 * Times each shape through the hub (HTTP, one request at a time) and through the store in a bench process (the
 * baseline), ABBA per shape, and makes the rows: hub p50 ≤ 10 ms is the target (issue: stats answered from the
 * rollups).
 */
async function runShapes(
  ctx: BenchContext,
  bench: string,
  label: string,
  storeUrl: string,
  server: ServerProcess,
  client: Worker,
  direct: Worker,
  end: number,
  database?: string,
): Promise<{ rows: ResultRow[]; runs: Record<string, Record<"hub" | "baseline", ShapeRun[]>> }> {
  const queries = ctx.quick ? 60 : 300;
  const warmup = ctx.quick ? 10 : 30;
  const rows: ResultRow[] = [];
  const runs: Record<string, Record<"hub" | "baseline", ShapeRun[]>> = {};
  for (const [i, shape] of SHAPES.entries()) {
    const random = seededRandom(10 + i);
    const requests = Array.from({ length: warmup + queries }, () => shape.make(random, end));
    const paths = requests.map((q) => q.path);
    const shapeRuns: Record<"hub" | "baseline", ShapeRun[]> = { hub: [], baseline: [] };
    for (const kind of interleave<"hub" | "baseline">("baseline", "hub", ctx.rounds)) {
      const r =
        kind === "hub"
          ? await timeHub(server, client, paths, warmup, database)
          : await direct.call<ShapeRun>("statsDirect", { databaseUrl: storeUrl, requests, warmup }, 180_000);
      shapeRuns[kind].push(r);
      const cpu = r.cpuMs ? `; per request: CPU hub ${cpuText(r)}` : "";
      ctx.log(
        `${shape.name.padEnd(44)} ${kind.padEnd(8)} p50 ${r.latency.p50.toFixed(2)} ms, p99 ${r.latency.p99.toFixed(2)} ms (${r.meanRows.toFixed(0)} buckets)${cpu}`,
      );
    }
    runs[shape.name] = shapeRuns;
    const best = (k: "hub" | "baseline") => shapeRuns[k].reduce((a, b) => (b.latency.p50 < a.latency.p50 ? b : a));
    const hub = best("hub");
    const base = best("baseline");
    rows.push(
      row({
        bench,
        metric: `${shape.name}, ${label}: p50 (vs the store's call)`,
        unit: "ms",
        hub: hub.latency.p50,
        baseline: base.latency.p50,
        target: { on: "hub", op: "<=", value: 10 },
        note: `p99 hub ${hub.latency.p99.toFixed(2)} ms, store ${base.latency.p99.toFixed(2)} ms; ${hub.meanRows.toFixed(0)} buckets per answer; per request: CPU hub ${cpuText(hub)}`,
      }),
    );
  }
  return { rows, runs };
}

function cpuText({ cpuMs: cpu, faults }: ShapeRun): string {
  if (!cpu || !faults) return "";
  const postgres = cpu.postgres === 0 ? "" : `, PostgreSQL ${Number.isNaN(cpu.postgres) ? "unknown" : `${cpu.postgres.toFixed(2)} ms`}`;
  return (
    `${cpu.hub.toFixed(2)} ms, client ${cpu.client.toFixed(2)} ms${postgres}, others ${cpu.others.toFixed(2)} ms; ` +
    `page faults hub ${faults.hub.toFixed(0)}, client ${faults.client.toFixed(0)}`
  );
}

function fillLog(ctx: BenchContext, what: string, fill: StatsFillResult): void {
  const rows = Object.entries(fill.rows)
    .map(([k, n]) => `${k} ${n.toLocaleString("en-US")}`)
    .join(", ");
  ctx.log(`filled the rollups of ${what} in ${fill.seconds.toFixed(1)} s (rows: ${rows})`);
}

/**
 * `GET /api/stats/events` and `/api/stats/deliveries` on SQLite over the rollups of 30 days of 1,000,000 events (the
 * query bench's size: 20 topics) and 20 subscriptions, the hub's default retentions applied by its own housekeeping.
 */
export const statsBench: Bench = {
  name: "stats",
  title: "stats from the rollups, SQLite, 30 days of 1M events",
  async run(ctx): Promise<BenchOutcome> {
    const count = ctx.quick ? 100_000 : 1_000_000;
    const label = `${count / 1e6}M events on SQLite`;
    const path = join(ctx.freshDir("stats"), "hub.db");
    const storeUrl = `sqlite:${path}`;
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const client = await spawnWorker("client");
    const direct = await spawnWorker("sqlite-baseline");
    try {
      const fill = await direct.call<StatsFillResult>(
        "fillRollups",
        { databaseUrl: storeUrl, topics: TOPICS, subscriptions: SUBSCRIPTIONS, events: count, end, spanMs: SPAN_MS },
        300_000,
      );
      fillLog(ctx, `${count.toLocaleString("en-US")} events`, fill);
      const server = await startHub({ databasePath: path, cpuProfDir: ctx.profileDir("stats-hub") });
      try {
        const { rows, runs } = await runShapes(ctx, "stats", label, storeUrl, server, client, direct, end);
        return { rows, details: { events: count, topics: TOPICS.length, subscriptions: SUBSCRIPTIONS.length, spanDays: 30, fill, runs } };
      } finally {
        await server.stop();
      }
    } finally {
      await Promise.all([client.close(), direct.close()]);
    }
  },
};

/** The same on PostgreSQL over the rollups of 30 days of 10,000,000 events, in a fresh database dropped afterwards. */
export const pgStatsBench: Bench = {
  name: "pg-stats",
  title: "stats from the rollups, PostgreSQL, 30 days of 10M events",
  async run(ctx): Promise<BenchOutcome> {
    const count = ctx.quick ? 1_000_000 : 10_000_000;
    const label = `${count / 1e6}M events on PostgreSQL`;
    const database = `switchboard_bench_stats_${process.pid}`;
    const storeUrl = await createDatabase(database);
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const client = await spawnWorker("client");
    const direct = await spawnPgChild("pg stats");
    try {
      const fill = await direct.call<StatsFillResult>(
        "fillRollups",
        { databaseUrl: storeUrl, topics: TOPICS, subscriptions: SUBSCRIPTIONS, events: count, end, spanMs: SPAN_MS },
        600_000,
      );
      fillLog(ctx, `${count.toLocaleString("en-US")} events`, fill);
      const server = await startPgHub(ctx, "pg-stats-hub", databaseUrl(database));
      try {
        const { rows, runs } = await runShapes(ctx, "pg-stats", label, storeUrl, server, client, direct, end, database);
        return { rows, details: { events: count, topics: TOPICS.length, subscriptions: SUBSCRIPTIONS.length, spanDays: 30, fill, runs } };
      } finally {
        await server.stop();
      }
    } finally {
      await Promise.all([client.close(), direct.close()]);
      await dropDatabase(database);
    }
  },
};
