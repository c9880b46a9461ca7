import { join } from "node:path";
import type { BenchContext } from "./context.js";
import { readPostgresCpuSeconds } from "./pg-server.js";
import { startHub, withCpu, type CpuUse, type ServerProcess } from "./processes.js";

/** Starts the built hub on the PostgreSQL database `url`: the env's DATABASE_URL overrides startHub's SQLite path, unused. */
export function startPgHub(ctx: BenchContext, label: string, url: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startHub({ databasePath: join(ctx.freshDir(label), "unused.db"), cpuProfDir: ctx.profileDir(label), env: { ...env, DATABASE_URL: url } });
}

/** CPU use over a phase, with PostgreSQL's own taken out of "others". */
export interface PgCpuUse<T> extends CpuUse<T> {
  /**
   * The backends of the bench's database and the server's own processes (WAL writer, checkpointer…), % of one core;
   * 0 without a database, NaN when PostgreSQL's processes are not visible (a remote server).
   */
  postgresPct: number;
}

/** {@link withCpu}, also measuring the CPU PostgreSQL spends on `database` (see readPostgresCpuSeconds). */
export async function withPgCpu<T>(pids: number[], database: string | undefined, phase: () => Promise<T>): Promise<PgCpuUse<T>> {
  const postgresCpu = () => (database === undefined ? 0 : readPostgresCpuSeconds(database));
  const pg0 = postgresCpu();
  const t0 = performance.now();
  const cpu = await withCpu(pids, phase);
  const postgresPct = (100 * (postgresCpu() - pg0)) / ((performance.now() - t0) / 1000);
  return { ...cpu, postgresPct, otherPct: Number.isFinite(postgresPct) ? Math.max(0, cpu.otherPct - postgresPct) : cpu.otherPct };
}
