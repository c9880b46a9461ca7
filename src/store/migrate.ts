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
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration numbers of ${dialect} must run 1, 2, 3…; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}
