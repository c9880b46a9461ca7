import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where `src/` and `node_modules/` are). */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output collected as it arrives. */
export interface Child {
  process: ChildProcess;
  /** stdout so far. */
  readonly stdout: string;
  /** stderr so far. */
  readonly stderr: string;
  /** Resolves when the process has exited and its pipes closed. */
  readonly exited: Promise<Exit>;
  /** Resolves once stdout contains `needle`; rejects when the process exits first or after `timeoutMs`. */
  waitForStdout(needle: string, timeoutMs?: number): Promise<void>;
  /** Sends `signal` if the process is still running. */
  kill(signal?: NodeJS.Signals): void;
}

/** Runs `node --import tsx <script> ...args` from the repository root, so the source is tested without a build. */
export function spawnNode(script: string, args: string[] = [], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    for (const l of [...listeners]) l();
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  let hasExited = false;
  const exited = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      hasExited = true;
      for (const l of [...listeners]) l();
      resolve({ code, signal });
    });
  });
  return {
    process: child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForStdout(needle, timeoutMs = 15_000) {
      return new Promise<void>((resolvePromise, reject) => {
        const check = () => {
          if (stdout.includes(needle)) {
            finish();
            resolvePromise();
          } else if (hasExited) {
            finish();
            reject(new Error(`process exited before printing ${JSON.stringify(needle)}; stdout: ${stdout}; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out waiting for ${JSON.stringify(needle)}; stdout: ${stdout}; stderr: ${stderr}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** A port free right now: bound on 127.0.0.1 by a throwaway server, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolvePromise);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  return port;
}

/** A hub running as a child process (`node --import tsx src/main.ts`). */
export interface SpawnedHub extends Child {
  url: string;
  port: number;
  /** Data directory (the SQLite file is `hub.db` in it). */
  dir: string;
  /** SIGKILLs the process if it still runs and waits for it to exit. Does not remove `dir`. */
  stop(): Promise<Exit>;
}

/** Options of {@link spawnHub}. */
export interface SpawnHubOptions {
  /** Extra environment (config keys such as `SWITCHBOARD_SSE_HEARTBEAT_MS`). */
  env?: Record<string, string>;
  /** Directory holding `hub.db`; a restart passes the first run's `dir`. Default: a new temp directory. */
  dir?: string;
}

/**
 * Starts the hub as a child process on a free port and waits until `/health` answers 200. The caller removes
 * `dir` (see {@link makeTempDir}) and calls `stop()`.
 */
export async function spawnHub(options: SpawnHubOptions = {}): Promise<SpawnedHub> {
  const dir = options.dir ?? (await makeTempDir());
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawnNode("src/main.ts", [], {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: `sqlite:${join(dir, "hub.db")}`,
      LOG_LEVEL: "warn",
      ...options.env,
    });
    const url = `http://127.0.0.1:${port}`;
    const hub: SpawnedHub = Object.assign(child, {
      url,
      port,
      dir,
      async stop() {
        child.kill("SIGKILL");
        return child.exited;
      },
    });
    const up = await waitForHealth(url, child);
    if (up) return hub;
    await hub.stop();
    // Someone took the port between our probe and the hub's listen: try another.
    if (attempt < 3 && child.stderr.includes("already in use")) continue;
    throw new Error(`the hub did not come up; stderr: ${child.stderr}`);
  }
}

async function waitForHealth(url: string, child: Child, timeoutMs = 20_000): Promise<boolean> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!exited && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** A new temporary directory; remove it with {@link removeDir}. */
export function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "switchboard-proc-"));
}

/** Removes a directory made by {@link makeTempDir}. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
