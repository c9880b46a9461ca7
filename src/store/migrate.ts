import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** One numbered migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * The migrations of a dialect, in order, read from `migrations/<dialect>/NNNN_name.sql` beside this module
 * (the build copies them next to the compiled code).
 */
export function loadMigrations(dialect: "sqlite" | "postgres"): Migration[] {
  const dir = fileURLToPath(new URL(`./migrations/${dialect}/`, import.meta.url));
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) continue;
    migrations.push({ version: Number(match[1]), name: match[2]!, sql: readFileSync(dir + file, "utf8") });
  }
  // Numbers only grow. A gap is allowed: a number reserved for work merged later (see runMigrations).
  migrations.forEach((m, i) => {
    const before = i === 0 ? 0 : migrations[i - 1]!.version;
    if (m.version <= before) throw new Error(`migration numbers of ${dialect} must grow: ${m.version} after ${before}`);
  });
  return migrations;
}

/** The statements of the migration runner, in a dialect's syntax. */
export interface MigrationStatements {
  /** Creates `switchboard_migrations` if missing. */
  createTable: string;
  /** One row `{ v }`: the highest version applied, 0 when none. */
  currentVersion: string;
  /** Records a migration: parameters version, name, applied_at. */
  record: string;
}

/** What a dialect gives the runner: a transaction that excludes other migrators, and a way to run SQL in it. */
export interface MigrationDriver {
  dialect: "sqlite" | "postgres";
  statements: MigrationStatements;
  /** Runs `fn` in one transaction (committed if it resolves) that other migrators wait for. */
  transaction<T>(fn: (run: MigrationQuery) => Promise<T>): Promise<T>;
}

/** Runs one statement (or script, without parameters) inside the migration transaction; returns its rows. */
export type MigrationQuery = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** What {@link runMigrations} did. */
export interface MigrateResult {
  applied: string[];
  version: number;
}

/**
 * Applies the dialect's pending migrations, each in its own transaction; the version is read again inside each, so
 * nodes starting at once apply each migration exactly once. Refuses a database newer than this code.
 */
export async function runMigrations(driver: MigrationDriver, now: () => number = Date.now): Promise<MigrateResult> {
  const migrations = loadMigrations(driver.dialect);
  const latest = migrations.at(-1)?.version ?? 0;
  const applied: string[] = [];
  const s = driver.statements;
  for (;;) {
    const done = await driver.transaction(async (run) => {
      await run(s.createTable);
      const current = Number((await run(s.currentVersion))[0]!.v);
      if (current > latest) {
        throw new Error(`the database is at schema version ${current}, newer than this Switchboard knows (${latest}); upgrade Switchboard`);
      }
      if (current === latest) return true;
      const m = migrations.find((candidate) => candidate.version > current)!;
      await run(m.sql);
      await run(s.record, [m.version, m.name, now()]);
      applied.push(`${String(m.version).padStart(4, "0")}_${m.name}`);
      return false;
    });
    if (done) break;
  }
  return { applied, version: latest };
}
