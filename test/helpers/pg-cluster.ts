import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A private PostgreSQL server a test may stop and start (the shared one on 5432 must never be). */
export interface PgCluster {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server: `fast` is a clean shutdown (sessions get 57P01), `immediate` a crash. */
  stop(mode?: "fast" | "immediate"): void;
  /** Starts it again on the same port and data directory; returns once it accepts connections. */
  start(): void;
  /** Stops it and removes its directory. */
  destroy(): void;
}

const PG_LIB = "/usr/lib/postgresql";

/** The newest installed server's bin directory, or undefined when there is none. */
function binDir(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(PG_LIB).filter((v) => /^\d+$/.test(v));
  } catch {
    return undefined;
  }
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? undefined : join(PG_LIB, newest, "bin");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Creates and starts a throwaway cluster (initdb as the `postgres` user, trust auth, fsync off) on a free port in a
 * temp directory. Needs root (to run as `postgres`) and the server binaries; throws saying which is missing.
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = binDir();
  if (bin === undefined) throw new Error(`no PostgreSQL server binaries under ${PG_LIB}`);
  const dir = mkdtempSync(join(tmpdir(), "switchboard-pgcluster-"));
  const data = join(dir, "data");
  const port = await freePort();
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args], { stdio: "pipe", timeout: 60_000 });
  const pgCtl = (...args: string[]) => asPostgres("pg_ctl", ["-D", data, ...args]);
  try {
    chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString().trim()), Number(execFileSync("id", ["-g", "postgres"]).toString().trim()));
    asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim();
    throw new Error(`cannot create a private PostgreSQL cluster (needs root and the postgres user): ${stderr || (error as Error).message}`);
  }
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=50`;
  let running = false;
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop(mode = "fast") {
      if (!running) return;
      pgCtl("-m", mode, "-w", "stop");
      running = false;
    },
    start() {
      if (running) return;
      pgCtl("-o", options, "-l", join(dir, "server.log"), "-w", "-t", "30", "start");
      running = true;
    },
    destroy() {
      try {
        cluster.stop("immediate");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    cluster.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return cluster;
}
