/**
 * The store conformance suite against PostgreSQL, plus what only PostgreSQL has (several nodes on one database).
 * Each test gets a new database cloned from a template made once for this file; all are dropped at the end.
 * PostgreSQL is found at DATABASE_URL_TEST; when it cannot be reached, CI fails and a laptop skips with a note.
 */
import pg from "pg";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import type { HubError } from "../../src/errors.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations } from "../../src/store/migrate.js";
import { openStore } from "../../src/store/index.js";
import { openPgStore } from "../../src/store/postgres/pg-store.js";
import type { AppendOutcome, Store } from "../../src/store/store.js";
import { describeStoreConformance, makeEvent } from "./conformance.js";

const TEMPLATE = `switchboard_template_${process.pid}`;

await describeWithPostgres("PostgreSQL store", "runs the store conformance suite against PostgreSQL", definePostgresTests);

function definePostgresTests(): void {
  let admin: pg.Client;
  let serial = 0;
  const databases: string[] = [];
  const urls = new Map<Store, string>();

  /** A new, empty database cloned from this file's template; dropped after the test. */
  async function newDatabase(): Promise<string> {
    const name = `switchboard_test_${process.pid}_${++serial}`;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
    databases.push(name);
    return databaseUrl(name);
  }

  function openAt(url: string): Store {
    const store = openPgStore({ url, maxConnections: 4 });
    urls.set(store, url);
    return store;
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
    // Empty, not migrated: the suite's `open` promises a database on which migrate() has not run.
    await admin.query(`CREATE DATABASE ${TEMPLATE} TEMPLATE template0 ENCODING 'UTF8'`);
  });

  // Registered at the top level, so it runs after the suites' own afterEach hooks have closed their stores.
  afterEach(async () => {
    urls.clear();
    for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  afterAll(async () => {
    if (!admin) return;
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
    await admin.end();
  });

  describeStoreConformance("postgres", async () => openAt(await newDatabase()), {
    async recordMigration(store, version) {
      const client = new pg.Client({ connectionString: urls.get(store)! });
      await client.connect();
      try {
        await client.query(`INSERT INTO switchboard_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [version, "from_the_future", Date.now()]);
      } finally {
        await client.end();
      }
    },
  });

  describe("PostgreSQL store", () => {
    const opened: Store[] = [];
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    function open(url: string): Store {
      const store = openAt(url);
      opened.push(store);
      return store;
    }

    function expectOk(outcome: AppendOutcome | undefined): Extract<AppendOutcome, { ok: true }> {
      if (!outcome?.ok) return expect.fail(`append failed: ${outcome ? outcome.error.message : "no outcome"}`);
      return outcome;
    }

    it("is opened and migrated by openStore() for a postgres:// URL", async () => {
      const url = await newDatabase();
      const store = await openStore(url);
      opened.push(store);
      expect(store.dialect).toBe("postgres");
      expect(await store.migrate()).toEqual({ applied: [], version: loadMigrations("postgres").length });
    });

    it("applies each migration once when several nodes start at once", async () => {
      const url = await newDatabase();
      const nodes = Array.from({ length: 4 }, () => open(url));
      const results = await Promise.all(nodes.map((n) => n.migrate()));
      const all = results.flatMap((r) => r.applied);
      expect(all.sort()).toEqual(loadMigrations("postgres").map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`));
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ version: number }>(`SELECT version FROM switchboard_migrations ORDER BY version`);
        expect(rows.map((r) => r.version)).toEqual(loadMigrations("postgres").map((m) => m.version));
      } finally {
        await client.end();
      }
    });

    // Readers use seq as a cursor: a lower seq must never commit after a higher one became visible.
    it("keeps seq order equal to commit order across nodes appending at once", async () => {
      const url = await newDatabase();
      const [a, b, reader] = [open(url), open(url), open(url)];
      await a.migrate();
      let writing = true;
      const seen: number[] = [];
      const read = (async () => {
        let cursor = 0;
        for (;;) {
          const done = !writing;
          const page = await reader.readEventsAfter(cursor, 1_000);
          for (const e of page) seen.push(e.seq);
          if (page.length > 0) cursor = page.at(-1)!.seq;
          if (done && page.length === 0) return;
        }
      })();
      const write = async (store: Store): Promise<number[]> => {
        const seqs: number[] = [];
        for (let i = 0; i < 40; i++) {
          const outcomes = await store.appendEvents([
            { events: [makeEvent("race"), makeEvent("race")], createTopics: true },
            { events: [makeEvent("race")], createTopics: true },
          ]);
          for (const o of outcomes) seqs.push(...expectOk(o).results.map((r) => r.seq));
        }
        return seqs;
      };
      const written = (await Promise.all([write(a), write(b)])).flat();
      writing = false;
      await read;
      expect(seen).toEqual([...written].sort((x, y) => x - y));
      expect((await reader.getTopic("race"))?.eventCount).toBe(written.length);
    });

    // PostgreSQL text cannot hold NUL; SQLite can. The request fails alone, as a 400, inside its savepoint.
    it("fails only the request with a NUL character in a text field, as SB_EVENT_INVALID", async () => {
      const store = open(await newDatabase());
      await store.migrate();
      const [good, bad, after] = await store.appendEvents([
        { events: [makeEvent("nul")], createTopics: true },
        { events: [makeEvent("nul"), makeEvent("nul", { source: "a\u0000b" })], createTopics: true },
        { events: [makeEvent("nul")], createTopics: true },
      ]);
      expectOk(good);
      expectOk(after);
      expect(bad?.ok).toBe(false);
      expect(bad?.ok === false && (bad.error as HubError).code).toBe("SB_EVENT_INVALID");
      expect(await store.readEventsAfter(0, 10)).toHaveLength(2);
      expect((await store.getTopic("nul"))?.eventCount).toBe(2);
    });

    it("stores data with the escape \\u0000 byte for byte, and searching data fields still works", async () => {
      const store = open(await newDatabase());
      await store.migrate();
      const dataJson = '{"a":"x\\u0000y","n":1}';
      const out = expectOk(
        (await store.appendEvents([{ events: [makeEvent("esc", { data: JSON.parse(dataJson), dataJson }), makeEvent("esc", { data: { n: 2 } })], createTopics: true }]))[0],
      );
      expect((await store.getEvent(out.results[0]!.id))?.dataJson).toBe(dataJson);
      const found = await store.searchEvents({ dataEquals: [{ field: "n", value: 1 }], order: "asc", limit: 10 });
      expect(found.map((e) => e.id)).toEqual([out.results[0]!.id]);
    });

    it("never reuses a seq after the newest events were deleted and the store reopened", async () => {
      const url = await newDatabase();
      const first = open(url);
      await first.migrate();
      const dropped = expectOk((await first.appendEvents([{ events: [makeEvent("dropped"), makeEvent("dropped")], createTopics: true }]))[0]);
      await first.deleteTopic("dropped");
      await first.close();
      const second = open(url);
      await second.migrate();
      const next = expectOk((await second.appendEvents([{ events: [makeEvent("kept")], createTopics: true }]))[0]);
      expect(next.results[0]!.seq).toBeGreaterThan(dropped.results[1]!.seq);
    });
  });
}
