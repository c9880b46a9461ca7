import { join } from "node:path";
import type { Bench, BenchContext } from "../lib/context.js";
import { spawnWorker, startBaselineServer, startHub, withCpu } from "../lib/processes.js";
import { row, type ResultRow, type Target } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";

/** The single event every request carries. Not an envelope (no `data`), so the hub stores it as data on `default`. */
export const SMALL_EVENT = JSON.stringify({ msg: "data", timestamp: "1700000000" });
export const POST_CONNECTIONS = 100;

/** One arm's best round of a POST-rate bench, with the CPU shares read over it. */
export type PostRun = LoadResult & { serverCpuPct: number; clientCpuPct: number; otherCpuPct: number };

/** What {@link measurePostRate} compares: the hub (prepared by `prepareHub`) and the bare server, the same body. */
export interface PostRateOptions {
  /** Names the data directories and profiles. */
  label: string;
  body: string;
  /** Headers sent besides `content-type`, to both arms; a stand-in of the same size until `prepareHub` gives the real ones. */
  headers?: Record<string, string>;
  /**
   * Runs once the hub is up, before the warm-up (e.g. creates a topic or an API key); the headers it gives replace
   * {@link headers} from then on, in both arms (the bare server ignores them).
   */
  prepareHub?: (origin: string) => Promise<Record<string, string> | void>;
}

/**
 * Single-event `POST /api/events` rate of the hub against a bare node:http server that parses and answers 201,
 * interleaved ABBA; each arm's best round, and the failures of all.
 */
export async function measurePostRate(
  ctx: BenchContext,
  options: PostRateOptions,
): Promise<{ hub: PostRun; base: PostRun; runs: Record<"hub" | "baseline", PostRun[]>; failures: number; durationS: number; warmupS: number }> {
  const durationS = ctx.quick ? 3 : 10;
  const warmupS = ctx.quick ? 1 : 3;
  const client = await spawnWorker("client");
  const runs: Record<"hub" | "baseline", PostRun[]> = { hub: [], baseline: [] };
  try {
    let round = 0;
    let headers = options.headers;
    for (const kind of interleave("baseline", "hub", ctx.rounds) as ("hub" | "baseline")[]) {
      round++;
      const server =
        kind === "hub"
          ? await startHub({
              databasePath: join(ctx.freshDir(`${options.label}-hub-${round}`), "hub.db"),
              cpuProfDir: ctx.profileDir(`${options.label}-hub-${round}`),
            })
          : await startBaselineServer();
      try {
        if (kind === "hub") headers = (await options.prepareHub?.(server.origin)) ?? headers;
        const load = { url: `${server.origin}/api/events`, body: options.body, headers, connections: POST_CONNECTIONS, pipelining: 1 };
        await client.call("load", { ...load, durationS: warmupS });
        const cpu = await withCpu([server.pid, client.pid], () => client.call<LoadResult>("load", { ...load, durationS }));
        const r = { ...cpu.result, serverCpuPct: cpu.pct[0]!, clientCpuPct: cpu.pct[1]!, otherCpuPct: cpu.otherPct };
        runs[kind].push(r);
        ctx.log(
          `${kind.padEnd(8)} ${Math.round(r.okPerSec)} req/s (p99 ${r.latencyP99Ms} ms, non-2xx ${r.non2xx}, errors ${r.errors}; ` +
            `cpu: server ${r.serverCpuPct.toFixed(0)}%, client ${r.clientCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    await client.close();
  }
  const best = (k: "hub" | "baseline") => runs[k].reduce((a, b) => (b.okPerSec > a.okPerSec ? b : a));
  const failures = [...runs.hub, ...runs.baseline].reduce((n, r) => n + r.non2xx + r.errors, 0);
  return { hub: best("hub"), base: best("baseline"), runs, failures, durationS, warmupS };
}

/** Server CPU per request, µs: steadier than req/s when other processes share the cores. */
export const cpuUsPerRequest = (r: { serverCpuPct: number; okPerSec: number }) => (r.serverCpuPct * 1e4) / r.okPerSec;

/** The CPU shares of both arms, for a row's note. */
export function cpuNote(hub: PostRun, base: PostRun, failures: number): string {
  return (
    `cpu server/client/others: hub ${hub.serverCpuPct.toFixed(0)}/${hub.clientCpuPct.toFixed(0)}/${hub.otherCpuPct.toFixed(0)}%, ` +
    `baseline ${base.serverCpuPct.toFixed(0)}/${base.clientCpuPct.toFixed(0)}/${base.otherCpuPct.toFixed(0)}%` +
    (failures ? `; ${failures} non-2xx or errors` : "")
  );
}

/**
 * A POST-rate bench's two rows: the hub's 2xx responses/s against the baseline's (with `target` on their ratio), and
 * the server CPU per request of the same rounds.
 */
export function postRateRows(bench: string, metric: string, target: Target | null, hub: PostRun, base: PostRun, failures: number): ResultRow[] {
  return [
    row({ bench, metric, unit: "req/s", hub: hub.okPerSec, baseline: base.okPerSec, target, note: cpuNote(hub, base, failures) }),
    row({
      bench,
      metric: "server CPU per request (same rounds)",
      unit: "µs",
      hub: cpuUsPerRequest(hub),
      baseline: cpuUsPerRequest(base),
      target: null,
      note: `efficiency baseline/hub ${(cpuUsPerRequest(base) / cpuUsPerRequest(hub)).toFixed(2)}: the req/s ratio the hub would reach with a whole core each`,
    }),
  ];
}

/** Bench 1: single-event `POST /api/events` rate, hub vs a bare node:http server that parses and answers 201. */
export const ingestBench: Bench = {
  name: "ingest",
  title: "single-event POST rate",
  async run(ctx) {
    const { hub, base, runs, failures, durationS, warmupS } = await measurePostRate(ctx, { label: "ingest", body: SMALL_EVENT });
    return {
      rows: postRateRows(
        "ingest",
        `POST /api/events, ${POST_CONNECTIONS} conns (vs bare node:http)`,
        { on: "ratio", op: ">=", value: 0.75 },
        hub,
        base,
        failures,
      ),
      details: { durationS, warmupS, connections: POST_CONNECTIONS, pipelining: 1, body: SMALL_EVENT, runs },
    };
  },
};
