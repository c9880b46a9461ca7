import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

/** The repository root; every child runs with it as its working directory. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/**
 * Where bench/ and what it imports from src/ and test/ are transpiled to, in the repository's layout. One folder per
 * checkout: git worktrees may share one node_modules, and a run in one must not delete another's files mid-run.
 */
const TRANSPILED = join(ROOT, "node_modules/.cache/switchboard-bench", createHash("sha256").update(ROOT).digest("hex").slice(0, 12));
/** bench/ transpiled to JavaScript; under node_modules so packages resolve and git ignores it. */
export const BENCH_BUILD = join(TRANSPILED, "bench");

/**
 * Transpiles bench/**\/*.ts to plain JavaScript in {@link BENCH_BUILD}, with the files of src/ and test/ it imports
 * (the SSE parser, the webhook receiver) beside it. The load client and the baseline server run from there without a
 * TypeScript loader, which costs throughput at run time (see bench/worker.ts).
 */
export function transpileBench(): void {
  rmSync(TRANSPILED, { recursive: true, force: true });
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? (e.name === "results" ? [] : walk(join(dir, e.name))) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
    );
  const queue = walk(join(ROOT, "bench"));
  const done = new Set<string>();
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const { outputText } = ts.transpileModule(readFileSync(file, "utf8"), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
    });
    // Relative imports that outlive transpiling (type-only ones are gone) come along, from wherever they are.
    for (const { fileName } of ts.preProcessFile(outputText, true, true).importedFiles) {
      if (/^\.{1,2}\/.*\.js$/.test(fileName)) queue.push(join(dirname(file), fileName.replace(/\.js$/, ".ts")));
    }
    const out = join(TRANSPILED, relative(ROOT, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  writeFileSync(join(TRANSPILED, "package.json"), '{ "type": "module", "private": true }\n');
}

const GC_PRELOAD = pathToFileURL(`${ROOT}bench/gc-preload.mjs`).href;
const children = new Set<ChildProcess>();

/** Kills (SIGKILL, by pid) every child this process started that is still running. For exits and aborts. */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** The environment of a child: ours without anything that would configure the hub or inject loaders. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("SWITCHBOARD_") || ["NODE_OPTIONS", "PORT", "HOST", "BASE_PATH", "DATABASE_URL", "LOG_LEVEL"].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** A port nobody listens on right now, on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** A server under test, running as a child process. */
export interface ServerProcess {
  kind: "hub" | "baseline";
  pid: number;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** The last few KiB the child wrote to stderr. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop(): Promise<void>;
}

/**
 * Per-client limits high enough never to trip, since every load generator is one client (127.0.0.1); set rather
 * than turned off (0) so that the limit checks still run and their cost is measured.
 */
const BENCH_LIMITS = {
  SWITCHBOARD_RATE_LIMIT_PUBLISH_PER_S: "1000000000",
  SWITCHBOARD_RATE_LIMIT_API_PER_S: "1000000000",
  SWITCHBOARD_MAX_STREAMS_PER_CREDENTIAL: "10000000",
};

/** Options of {@link startHub}. */
export interface StartHubOptions {
  /** SQLite file of the hub (its directory should be fresh unless prefilled on purpose). */
  databasePath: string;
  /** Write a V8 CPU profile of the hub into this directory when it exits. */
  cpuProfDir?: string;
  /** Extra environment, such as `SWITCHBOARD_ALLOW_PRIVATE_TARGETS`. */
  env?: Record<string, string>;
}

/**
 * Starts the built hub (`node dist/main.js`) on a free loopback port with LOG_LEVEL=info and stdout to /dev/null:
 * request logging stays on, as in production. Resolves once `/health` answers 200.
 */
export async function startHub(options: StartHubOptions): Promise<ServerProcess> {
  const port = await freePort();
  const args = ["--expose-gc", "--import", GC_PRELOAD];
  if (options.cpuProfDir) args.push("--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`);
  args.push("dist/main.js");
  const env = childEnv({
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: `sqlite:${options.databasePath}`,
    LOG_LEVEL: "info",
    ...BENCH_LIMITS,
    ...options.env,
  });
  return startServerProcess("hub", args, env, port);
}

/** Starts the bare `node:http` baseline server (bench/baseline-server.ts) the same way as the hub. */
export async function startBaselineServer(): Promise<ServerProcess> {
  const port = await freePort();
  const args = ["--expose-gc", "--import", GC_PRELOAD, join(BENCH_BUILD, "baseline-server.js")];
  return startServerProcess("baseline", args, childEnv({ PORT: String(port) }), port);
}

async function startServerProcess(kind: "hub" | "baseline", args: string[], env: NodeJS.ProcessEnv, port: number): Promise<ServerProcess> {
  const child = track(spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] }));
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (s: string) => {
    stderr = (stderr + s).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${kind} exited before listening (code ${child.exitCode}, signal ${child.signalCode}): ${stderr}`);
    }
    try {
      const res = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${kind} did not answer /health within 30 s: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    kind,
    pid: child.pid!,
    origin,
    stderrTail: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A load-client (or baseline) child process driven over IPC: `call(command, args)` runs one command of bench/worker.ts. */
export interface Worker {
  pid: number;
  call<T>(command: string, args: unknown, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Starts bench/worker.ts in its own process, so it gets its own core. */
export async function spawnWorker(name: string): Promise<Worker> {
  const child = track(
    spawn(process.execPath, [join(BENCH_BUILD, "worker.js"), name], {
      cwd: ROOT,
      env: childEnv({}),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  return driveOverIpc(child, `worker ${name}`);
}

/**
 * Drives a child process that answers `{id, command, args}` messages with `{id, ok, result | error}` (bench/worker.ts
 * and the PostgreSQL children): waits for its answer to `ping`, and kills it if that does not come. `label` names it
 * in errors.
 */
export async function driveOverIpc(child: ChildProcess, label: string): Promise<Worker> {
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("message", (message: Reply) => {
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    if (message.ok) w.resolve(message.result);
    else w.reject(new Error(`${label}: ${message.error}`));
  });
  child.once("exit", (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
    waiting.clear();
  });
  const worker: Worker = {
    pid: child.pid!,
    call<T>(command: string, args: unknown, timeoutMs = 120_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${label}: ${command} took longer than ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, command, args });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await worker.call("ping", null, 30_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return worker;
}

/** Resident set size of a process, KiB, from /proc/<pid>/status. */
export function readRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** CPU time (user + system) a process has used, seconds, from /proc/<pid>/stat. */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command: state is field 3, utime 14 and stime 15 (1-based) → indexes 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/**
 * Minor page faults a process has taken, from /proc/<pid>/stat: each first touch of fresh memory is one (on this
 * kind of virtual machine a costly one: see docs/aggregation.md, "What moving a large reply costs").
 */
export function readMinorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // After the command: minflt is field 10 (1-based) → index 7 here.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/** CPU time the whole machine spent busy (all CPUs, everything but idle and iowait), seconds, from /proc/stat. */
export function readMachineBusySeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

/** CPU use over a phase, each as a percentage of one core (the machine's can reach 100 × cores). */
export interface CpuUse<T> {
  result: T;
  /** Per pid given, in order. */
  pct: number[];
  /** The whole machine. */
  machinePct: number;
  /** The machine minus the pids given and this process: other tenants, the kernel, noise. */
  otherPct: number;
}

/** Measures the CPU use of some processes, and of the machine, over an async phase. */
export async function withCpu<T>(pids: number[], phase: () => Promise<T>): Promise<CpuUse<T>> {
  const own = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const before = pids.map(readCpuSeconds);
  const machine0 = readMachineBusySeconds();
  const own0 = own();
  const t0 = performance.now();
  const result = await phase();
  const wall = (performance.now() - t0) / 1000;
  const pct = pids.map((pid, i) => (100 * (readCpuSeconds(pid) - before[i]!)) / wall);
  const machinePct = (100 * (readMachineBusySeconds() - machine0)) / wall;
  const ownPct = (100 * (own() - own0)) / wall;
  return { result, pct, machinePct, otherPct: Math.max(0, machinePct - ownPct - pct.reduce((a, b) => a + b, 0)) };
}

/** Cores on this machine. */
export const CORES = cpus().length;

/** Asks a server under test for a full GC (SIGUSR2, see bench/gc-preload.mjs). */
export function requestGc(pid: number): void {
  process.kill(pid, "SIGUSR2");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
