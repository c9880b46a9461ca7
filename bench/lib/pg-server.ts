import { existsSync, readdirSync, readFileSync } from "node:fs";
import pg from "pg";

/**
 * The PostgreSQL server of the pg benches: `BENCH_DATABASE_URL`, else the local trust-auth default. Its own database
 * is used only to create and drop the benches' databases, one fresh database per arm and round.
 */
export const PG_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** The URL of database `name` on the server of {@link PG_ADMIN_URL}. */
export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect().catch((error: unknown) => {
    throw new Error(`cannot reach PostgreSQL at ${PG_ADMIN_URL} (set BENCH_DATABASE_URL): ${error instanceof Error ? error.message : String(error)}`);
  });
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (from template0, dropping a leftover of the same name) and returns its URL. */
export async function createDatabase(name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${JSON.stringify(name)}`);
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  });
  return databaseUrl(name);
}

/** Drops a database made by {@link createDatabase}, disconnecting whatever is still connected to it. */
export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * Drops the databases named `<prefix>…_<pid>` whose pid is no running process: what a run that was killed before its
 * cleanup left behind.
 */
export async function dropStaleDatabases(prefix: string): Promise<string[]> {
  const names = await admin(async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [prefix])).rows);
  const stale = names
    .map((r) => r.datname)
    .filter((name) => {
      const pid = Number(/_(\d+)$/.exec(name)?.[1]);
      return Number.isInteger(pid) && pid > 0 && !existsSync(`/proc/${pid}`);
    });
  for (const name of stale) await dropDatabase(name);
  return stale;
}

/** One query on database `url` with a connection of its own (closed afterwards). */
export async function queryDatabase<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * CPU time (user + system) of the PostgreSQL server, seconds, from /proc. With `database`: that database's backends
 * (a backend's title names its database) plus the server's own processes (postmaster, WAL writer, checkpointer…),
 * which serve every database but are the smaller part; other tenants' databases are left out, and a backend that
 * exits takes its time with it, so read this while the connections of interest are open. Without: every process of
 * the server, plus the backends the postmaster has reaped (the kernel adds their time to its cutime and cstime).
 * NaN when no PostgreSQL process is visible (a remote server, another PID namespace).
 */
export function readPostgresCpuSeconds(database?: string): number {
  let total = 0;
  let seen = false;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let title: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== "postgres") continue;
      title = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue; // exited meanwhile
    }
    seen = true;
    // A backend: "postgres: CLUSTER: USER DATABASE HOST(PORT) STATE"; the server's own processes have other titles.
    const backend = /^postgres: (?:[^:]+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title);
    if (database !== undefined && backend && backend[1] !== database) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the command: utime, stime, cutime, cstime are fields 14-17 (1-based) → indexes 11-14 here.
    total += Number(f[11]) + Number(f[12]);
    // The postmaster is the one process without a "postgres: " title.
    if (database === undefined && !title.startsWith("postgres:")) total += Number(f[13]) + Number(f[14]);
  }
  return seen ? total / 100 : NaN; // USER_HZ is 100 on Linux
}
