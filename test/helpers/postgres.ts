/**
 * PostgreSQL for tests: found at DATABASE_URL_TEST (default the local server). A suite that needs it is declared
 * with {@link describeWithPostgres}: when the server cannot be reached, CI fails (the PostgreSQL run is required
 * there) and a laptop skips the suite with a note naming the address.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";

/** The maintenance database tests connect to, to create and drop their own. */
export const ADMIN_URL = process.env.DATABASE_URL_TEST ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** The URL of database `name` on the same server. */
export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Why PostgreSQL cannot be reached, or undefined when it answers. */
async function unreachableReason(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Declares the tests `define` registers when PostgreSQL answers; otherwise a failing test in CI, or a skipped suite
 * with a visible note elsewhere.
 * @param suite the name of the failing test's suite in CI.
 * @param what what the skipped suite would have done, for the note.
 */
export async function describeWithPostgres(suite: string, what: string, define: () => void): Promise<void> {
  const unreachable = await unreachableReason();
  const where = ADMIN_URL.replace(/\/\/[^@/]*@/, "//");
  if (unreachable === undefined) define();
  else if (process.env.CI) {
    describe(suite, () => {
      it(`reaches PostgreSQL at ${where} (required in CI)`, () => {
        expect.fail(`PostgreSQL unreachable at ${where}: ${unreachable}`);
      });
    });
  } else {
    describe.skip(`PostgreSQL unreachable at ${where}: skipped (${unreachable})`, () => {
      it(what, () => {});
    });
  }
}
