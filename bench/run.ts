/**
 * `npm run bench [-- --only ingest,sse] [--quick] [--rounds N] [--cpu-prof] [--no-build] [--keep]`
 *
 * Builds the hub, then runs each bench: the hub (`node dist/main.js`, LOG_LEVEL=info, stdout to /dev/null, a fresh
 * data directory) and its baseline are child processes driven by the same client code in another child process.
 * Arms are interleaved ABBA and the best round of each arm is kept. Prints a table and writes
 * bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { backlogBench } from "./benches/backlog.js";
import { batchBench } from "./benches/batch.js";
import { destinationsBench } from "./benches/destinations.js";
import { fanoutBench } from "./benches/fanout.js";
import { handlersBench } from "./benches/handlers.js";
import { ingestAuthBench } from "./benches/ingest-auth.js";
import { ingestLiveBench } from "./benches/ingest-live.js";
import { ingestSseBench } from "./benches/ingest-sse.js";
import { ingestWebhooksBench } from "./benches/ingest-webhooks.js";
import { ingestBench } from "./benches/ingest.js";
import { pgAggregateCostBench } from "./benches/pg-aggregate-cost.js";
import { pgBatchBench } from "./benches/pg-batch.js";
import { pgClientBench } from "./benches/pg-client.js";
import { pgIngestBench } from "./benches/pg-ingest.js";
import { pgQueryBench } from "./benches/pg-query.js";
import { pgWebhookNodesBench } from "./benches/pg-webhook-nodes.js";
import { pgWebhookBench } from "./benches/pg-webhook.js";
import { queryBench } from "./benches/query.js";
import { rollupCostBench } from "./benches/rollup-cost.js";
import { pgStatsBench, statsBench } from "./benches/stats.js";
import { sseLatencyBench } from "./benches/sse-latency.js";
import { webhookLatencyBench } from "./benches/webhook-latency.js";
import { webhookBench } from "./benches/webhook.js";
import type { Bench, BenchContext } from "./lib/context.js";
import { killChildren, readMachineBusySeconds, ROOT, sleep, transpileBench } from "./lib/processes.js";
import { topSelfTime, type HotFunction } from "./lib/profile.js";
import { formatTable, row, writeResults, type ResultRow } from "./lib/report.js";

const BENCHES: Bench[] = [
  ingestBench,
  ingestLiveBench,
  ingestAuthBench,
  batchBench,
  rollupCostBench,
  sseLatencyBench,
  fanoutBench,
  ingestSseBench,
  queryBench,
  statsBench,
  webhookBench,
  webhookLatencyBench,
  destinationsBench,
  ingestWebhooksBench,
  backlogBench,
  pgIngestBench,
  pgBatchBench,
  pgAggregateCostBench,
  pgQueryBench,
  pgStatsBench,
  pgClientBench,
  pgWebhookBench,
  pgWebhookNodesBench,
  handlersBench,
];
/** The whole run is killed past this, whatever happens. */
const WATCHDOG_MS = 45 * 60_000;

interface Options {
  only: string[] | undefined;
  quick: boolean;
  rounds: number | undefined;
  cpuProf: boolean;
  build: boolean;
  keep: boolean;
}

const USAGE = `usage: npm run bench -- [--only ${BENCHES.map((b) => b.name).join(",")}] [--quick] [--rounds N] [--cpu-prof] [--no-build] [--keep]
  --only      run these benches (comma-separated)
  --quick     short durations and fewer samples: a smoke run, not numbers to quote
  --rounds N  rounds per arm (default 2, or 1 with --quick), interleaved ABBA; the best round of each arm is kept
  --cpu-prof  write a V8 CPU profile of every hub process and print its top self-time functions (slows the hub)
  --no-build  skip \`npm run build\` (dist/ must be current)
  --keep      keep the temporary data directories (and print where)`;

function parseArgs(argv: string[]): Options {
  const o: Options = { only: undefined, quick: false, rounds: undefined, cpuProf: false, build: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    switch (flag) {
      case "--only":
        o.only = value()
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        for (const name of o.only) if (!BENCHES.some((b) => b.name === name)) fail(`unknown bench ${JSON.stringify(name)}`);
        break;
      case "--quick":
        o.quick = true;
        break;
      case "--rounds": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 5) fail("--rounds must be 1 to 5");
        o.rounds = n;
        break;
      }
      case "--cpu-prof":
        o.cpuProf = true;
        break;
      case "--no-build":
        o.build = false;
        break;
      case "--keep":
        o.keep = true;
        break;
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${flag}`);
    }
  }
  return o;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const benches = options.only ? BENCHES.filter((b) => options.only!.includes(b.name)) : BENCHES;
  const rounds = options.rounds ?? (options.quick ? 1 : 2);

  if (options.build) {
    process.stdout.write("bench: npm run build\n");
    const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
    if (build.status !== 0) {
      process.stderr.write("bench: the build failed\n");
      return 1;
    }
  }

  transpileBench();
  // Other tenants of this machine skew every figure: measure how busy it is before we add load.
  const busy0 = readMachineBusySeconds();
  await sleep(1000);
  const busyBeforePct = 100 * (readMachineBusySeconds() - busy0);
  process.stdout.write(`bench: machine busy before start: ${busyBeforePct.toFixed(0)}% of one core (of ${cpus().length * 100}%)\n`);
  if (busyBeforePct > 20) process.stdout.write("bench: WARNING: other processes are using the CPU; figures will be noisy and low\n");
  const tmp = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
  const profiles = options.cpuProf ? join(tmp, "profiles") : undefined;
  const log = (bench: string) => (message: string) => process.stdout.write(`  [${bench}] ${message}\n`);
  const rows: ResultRow[] = [];
  const details: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const aggregation =
    `${rounds} round(s) per arm, interleaved ABBA (baseline, hub, hub, baseline…); throughput: best round; ` +
    `latency: the round with the lowest p50 (its p99 with it); fan-out memory: the larger round`;
  process.stdout.write(`bench: ${benches.map((b) => b.name).join(", ")}${options.quick ? " (quick)" : ""}; ${aggregation}\n`);
  if (options.cpuProf) process.stdout.write("bench: CPU profiling is on: the hub runs slower than it would; numbers are for finding hot spots only\n");

  for (const bench of benches) {
    const t0 = performance.now();
    process.stdout.write(`\n== ${bench.name}: ${bench.title}\n`);
    const ctx: BenchContext = {
      quick: options.quick,
      rounds,
      freshDir(label) {
        const dir = join(tmp, label);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        return dir;
      },
      profileDir: (label) => (profiles ? join(profiles, label) : undefined),
      log: log(bench.name),
    };
    try {
      const outcome = await bench.run(ctx);
      rows.push(...outcome.rows);
      details[bench.name] = outcome.details;
    } catch (error) {
      killChildren();
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors[bench.name] = message;
      process.stdout.write(`  [${bench.name}] FAILED: ${message}\n`);
      rows.push(row({ bench: bench.name, metric: "(failed, see above)", unit: "", hub: NaN, baseline: null, target: { on: "hub", op: ">=", value: 0 } }));
    }
    process.stdout.write(`  [${bench.name}] ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }

  const profileSummaries: Record<string, { totalMs: number; busyMs: number; top: HotFunction[] }> = {};
  if (profiles) {
    for (const label of safeReaddir(profiles)) {
      for (const file of safeReaddir(join(profiles, label)).filter((f) => f.endsWith(".cpuprofile"))) {
        // One profile per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile): the main thread's goes by the
        // label alone, a worker's (SQLite's checkpointer) with its thread id.
        const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? "0";
        profileSummaries[thread === "0" ? label : `${label} (thread ${thread})`] = topSelfTime(join(profiles, label, file), 15);
      }
    }
  }

  const finishedAt = new Date();
  const elapsedS = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  process.stdout.write(`\n${formatTable(rows)}\n\n`);
  process.stdout.write(`aggregation: ${aggregation}\n`);
  process.stdout.write(`machine busy before start: ${busyBeforePct.toFixed(0)}% of one core; "others" in the notes is CPU used by processes not ours\n`);
  for (const r of rows) if (r.note) process.stdout.write(`  ${r.bench}: ${r.metric}: ${r.note}\n`);
  for (const [label, p] of Object.entries(profileSummaries)) {
    process.stdout.write(
      `\nCPU profile of ${label} (${(p.totalMs / 1000).toFixed(1)} s sampled, ${(p.busyMs / 1000).toFixed(1)} s busy), top self time (% of busy):\n`,
    );
    for (const f of p.top) process.stdout.write(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.function}  ${f.location}\n`);
  }
  const path = writeResults(join(ROOT, "bench/results"), startedAt, {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    elapsedS,
    options: { ...options, rounds },
    machine: {
      busyBeforeStartPct: busyBeforePct,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryMiB: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      kernel: release(),
    },
    aggregation,
    rows,
    errors,
    details,
    profiles: profileSummaries,
    profileDir: profiles,
  });
  process.stdout.write(`\nbench: ${elapsedS.toFixed(0)} s; results in ${path} and bench/results/latest.json\n`);
  if (options.keep) process.stdout.write(`bench: data kept in ${tmp}\n`);
  else if (profiles) {
    for (const entry of safeReaddir(tmp)) if (join(tmp, entry) !== profiles) rmSync(join(tmp, entry), { recursive: true, force: true });
    process.stdout.write(`bench: CPU profiles kept in ${profiles}\n`);
  } else rmSync(tmp, { recursive: true, force: true });
  return Object.keys(errors).length > 0 ? 1 : 0;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${WATCHDOG_MS / 60_000} min; giving up\n`);
  killChildren();
  process.exit(1);
}, WATCHDOG_MS);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    killChildren();
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killChildren();
    process.exit(1);
  },
);
