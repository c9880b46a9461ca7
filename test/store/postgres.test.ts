/**
 * The store conformance suite against PostgreSQL, plus what only PostgreSQL has (several nodes on one database).
 * Each test gets a new database cloned from a template made once for this file; all are dropped at the end.
 * PostgreSQL is found at DATABASE_URL_TEST; when it cannot be reached, CI fails and a laptop skips with a note.
 */
import pg from "pg";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import type { HubError } from "../../src/errors.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compileContinuousAggregate } from "../../src/aggregation/continuous-spec.js";
import { loadConfig } from "../../src/config.js";
import { loadMigrations } from "../../src/store/migrate.js";
import { runRetention } from "../../src/store/retention.js";
import { openStore } from "../../src/store/index.js";
import { openPgStore, type PgStore } from "../../src/store/postgres/pg-store.js";
import { INSERT as INSERT_AGGREGATE, LOCK_APPENDS } from "../../src/store/postgres/sql/aggregates.js";
import type { AppendOutcome, Store } from "../../src/store/store.js";
import { describeStoreConformance, makeEvent } from "./conformance/index.js";

const T0 = Date.UTC(2025, 0, 1);

/** Waits until `check` holds (work the store does in the background). */
async function eventuallyTrue(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the condition");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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
    openWithoutRollups: async () => openPgStore({ url: await newDatabase(), maxConnections: 4, rollups: false }),
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

    /**
     * Appends `event` on `store` while another connection, holding the appends' lock, adds an aggregate: the append
     * waits for the lock, then the other transaction commits and lets it go.
     */
    async function appendWhileAggregateAdded(url: string, store: Store, name: string, definition: object, event: ReturnType<typeof makeEvent>): Promise<void> {
      const creator = new pg.Client({ connectionString: url });
      await creator.connect();
      try {
        await creator.query(`BEGIN`);
        await creator.query(LOCK_APPENDS);
        await creator.query(INSERT_AGGREGATE, [name, JSON.stringify(definition), T0]);
        const appending = store.events.append([{ events: [event], createTopics: true }]);
        await eventuallyTrue(async () => (await creator.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rowCount! > 0);
        await creator.query(`COMMIT`);
        expectOk((await appending)[0]);
      } finally {
        await creator.end();
      }
    }

    it("is opened and migrated by openStore() for a postgres:// URL", async () => {
      const url = await newDatabase();
      const store = await openStore(url);
      opened.push(store);
      expect(store.dialect).toBe("postgres");
      expect(await store.migrate()).toEqual({ applied: [], version: loadMigrations("postgres").at(-1)!.version });
    });

    it("keeps its tables in DB_SCHEMA's schema (folded to lower case, as PostgreSQL reads it), creating it", async () => {
      const url = await newDatabase();
      const config = loadConfig({ env: { DATABASE_URL: url, DB_SCHEMA: "Seh_Hub" } });
      const store = await openStore(config.databaseUrl);
      opened.push(store);
      await store.migrate();
      expectOk((await store.events.append([{ events: [makeEvent("t", { time: T0 })], createTopics: true }]))[0]);
      expect((await store.events.search({ order: "asc", limit: 10 })).map((e) => e.topic)).toEqual(["t"]);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query(
          `SELECT table_schema FROM information_schema.tables WHERE table_name = 'switchboard_migrations' ORDER BY table_schema`,
        );
        expect(rows.map((r) => r.table_schema)).toEqual(["seh_hub"]);
        expect((await client.query(`SELECT count(*)::int AS n FROM seh_hub.events`)).rows[0].n).toBe(1);
      } finally {
        await client.end();
      }
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

    it("adds each commit's events to the minute's rollup rows with HOT updates (no index entry per commit)", async () => {
      const url = await newDatabase();
      const store = open(url);
      await store.migrate();
      // Five commits in one minute: the first inserts the topic's row and the row under '', the other four update both.
      for (let i = 0; i < 5; i++) expectOk((await store.events.append([{ events: [makeEvent("t", { receivedAt: T0 + i })], createTopics: true }]))[0]);
      await store.close();
      // A backend sends its table statistics at the latest when it exits: read them once the store's have.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const counts = async () =>
          (
            await client.query<{ upd: number; hot: number }>(
              `SELECT n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relname = 'event_rollups'`,
            )
          ).rows[0]!;
        await eventuallyTrue(async () => {
          await client.query(`SELECT pg_stat_clear_snapshot()`);
          return (await counts()).upd >= 8;
        });
        expect(await counts()).toEqual({ upd: 8, hot: 8 });
      } finally {
        await client.end();
      }
    });

    it("keeps every node's continuous aggregates in step: a node with stale definitions reloads them in its next append", async () => {
      const url = await newDatabase();
      const [a, b] = [open(url), open(url)];
      await a.migrate();
      for (const node of [a, b]) node.aggregates.useCompiler((agg) => compileContinuousAggregate(agg));
      const event = (n: number) => makeEvent("orders.paid", { data: { amount: n }, time: T0 });
      expectOk((await b.events.append([{ events: [event(1)], createTopics: true }]))[0]); // b compiles "no definitions"
      await a.aggregates.create("revenue", { topic: "orders.*", metrics: ["count", "sum:data.amount"], interval: "1h" }, T0);
      // Both ways of appending on b: the one-statement path and the careful one (a client id).
      expectOk((await b.events.append([{ events: [event(10)], createTopics: true }]))[0]);
      expectOk((await b.events.append([{ events: [{ ...event(100), clientId: true }], createTopics: true }]))[0]);
      expect(await a.aggregates.cells("revenue", T0, T0 + 3_600_000)).toEqual([
        { t: T0, group: "", field: "", n: 2, sum: 0, min: 0, max: 0 },
        { t: T0, group: "", field: "data.amount", n: 2, sum: 110, min: 10, max: 100 },
      ]);
      await a.aggregates.delete("revenue");
      await a.aggregates.create("revenue", { topic: "users", metrics: ["count"], interval: "1h" }, T0);
      expectOk((await b.events.append([{ events: [event(1000)], createTopics: true }]))[0]);
      expect(await a.aggregates.cells("revenue", T0, T0 + 3_600_000)).toEqual([]);
    });

    // The one-statement append takes the lock inside the statement, whose snapshot is older than the lock: the
    // version it checks must still be the newest (read FOR SHARE), or the event would miss the new aggregate.
    it("counts an append in an aggregate another node created while the append waited for the lock", async () => {
      const url = await newDatabase();
      const [a, b] = [open(url), open(url)];
      await a.migrate();
      b.aggregates.useCompiler((agg) => compileContinuousAggregate(agg));
      const event = (n: number) => makeEvent("orders.paid", { data: { amount: n }, time: T0 });
      expectOk((await a.events.append([{ events: [event(1)], createTopics: true }]))[0]);
      expectOk((await b.events.append([{ events: [event(2)], createTopics: true }]))[0]); // b compiles "no definitions"
      await appendWhileAggregateAdded(url, b, "revenue", { topic: "orders.*", metrics: ["sum:data.amount"], interval: "1h" }, event(10));
      expect(await a.aggregates.cells("revenue", T0, T0 + 3_600_000)).toEqual([
        { t: T0, group: "", field: "", n: 1, sum: 0, min: 0, max: 0 },
        { t: T0, group: "", field: "data.amount", n: 1, sum: 10, min: 10, max: 10 },
      ]);
    });

    // The one-statement append also writes the cells it counted in memory: with definitions changed while it waited for
    // the lock, it must write nothing (not those cells, nor the event) and count the event again with the new ones.
    it("counts, with the new definitions, an append whose cells were counted before another node changed them", async () => {
      const url = await newDatabase();
      const [a, b] = [open(url), open(url)];
      await a.migrate();
      b.aggregates.useCompiler((agg) => compileContinuousAggregate(agg));
      const event = (n: number) => makeEvent("orders.paid", { data: { amount: n }, time: T0 });
      await a.aggregates.create("revenue", { topic: "orders.*", metrics: ["sum:data.amount"], interval: "1h" }, T0);
      expectOk((await b.events.append([{ events: [event(1)], createTopics: true }]))[0]); // b compiles "revenue"
      expectOk((await b.events.append([{ events: [event(2)], createTopics: true }]))[0]); // in one statement, with its cells
      await appendWhileAggregateAdded(url, b, "tally", { topic: "orders.*", metrics: ["count"], interval: "1h" }, event(10));
      expect(await a.aggregates.cells("revenue", T0, T0 + 3_600_000)).toEqual([
        { t: T0, group: "", field: "", n: 3, sum: 0, min: 0, max: 0 },
        { t: T0, group: "", field: "data.amount", n: 3, sum: 13, min: 1, max: 10 },
      ]);
      expect(await a.aggregates.cells("tally", T0, T0 + 3_600_000)).toEqual([{ t: T0, group: "", field: "", n: 1, sum: 0, min: 0, max: 0 }]);
      expect((await a.events.readAfter(0, 10)).map((e) => e.data)).toEqual([{ amount: 1 }, { amount: 2 }, { amount: 10 }]);
    });

    // Readers use seq as a cursor: a lower seq must never commit after a higher one became visible.
    it("keeps seq order equal to commit order across nodes appending at once", async () => {
      const url = await newDatabase();
      const [a, b, reader] = [open(url), open(url), open(url)];
      await a.migrate();
      let writing = true;
      // Each event as "seq id": the seqs the appends answered must be those stored under the same ids.
      const seen: string[] = [];
      const read = (async () => {
        let cursor = 0;
        for (;;) {
          const done = !writing;
          const page = await reader.events.readAfter(cursor, 1_000);
          for (const e of page) seen.push(`${e.seq} ${e.id}`);
          if (page.length > 0) cursor = page.at(-1)!.seq;
          if (done && page.length === 0) return;
        }
      })();
      const write = async (store: Store): Promise<Array<{ id: string; seq: number; topic: string }>> => {
        const results: Array<{ id: string; seq: number; topic: string }> = [];
        for (let i = 0; i < 40; i++) {
          const outcomes = await store.events.append([
            { events: [makeEvent("race"), makeEvent("race")], createTopics: true },
            { events: [makeEvent("race.b"), makeEvent("race")], createTopics: true },
          ]);
          for (const o of outcomes) results.push(...expectOk(o).results);
        }
        return results;
      };
      const written = (await Promise.all([write(a), write(b)])).flat();
      writing = false;
      await read;
      expect(seen).toEqual([...written].sort((x, y) => x.seq - y.seq).map((r) => `${r.seq} ${r.id}`));
      expect((await reader.topics.get("race"))?.eventCount).toBe(written.filter((r) => r.topic === "race").length);
      expect((await reader.topics.get("race.b"))?.eventCount).toBe(written.filter((r) => r.topic === "race.b").length);
    });

    // PostgreSQL text cannot hold NUL; SQLite can. The request fails alone, as a 400, inside its savepoint.
    it("fails only the request with a NUL character in a text field, as SB_EVENT_INVALID", async () => {
      const store = open(await newDatabase());
      await store.migrate();
      const [good, bad, after] = await store.events.append([
        { events: [makeEvent("nul")], createTopics: true },
        { events: [makeEvent("nul"), makeEvent("nul", { source: "a\u0000b" })], createTopics: true },
        { events: [makeEvent("nul")], createTopics: true },
      ]);
      expectOk(good);
      expectOk(after);
      expect(bad?.ok).toBe(false);
      expect(bad?.ok === false && (bad.error as HubError).code).toBe("SB_EVENT_INVALID");
      expect(await store.events.readAfter(0, 10)).toHaveLength(2);
      expect((await store.topics.get("nul"))?.eventCount).toBe(2);
    });

    it("stores data with the escape \\u0000 byte for byte, and searching data fields still works", async () => {
      const store = open(await newDatabase());
      await store.migrate();
      const dataJson = '{"a":"x\\u0000y","n":1}';
      const out = expectOk(
        (
          await store.events.append([
            { events: [makeEvent("esc", { data: JSON.parse(dataJson), dataJson }), makeEvent("esc", { data: { n: 2 } })], createTopics: true },
          ])
        )[0],
      );
      expect((await store.events.get(out.results[0]!.id))?.dataJson).toBe(dataJson);
      const found = await store.events.search({ dataEquals: [{ field: "n", value: 1 }], order: "asc", limit: 10 });
      expect(found.map((e) => e.id)).toEqual([out.results[0]!.id]);
    });

    /** Partitions of the events table as (name, bounds), in seq order. */
    async function partitionsOf(url: string): Promise<string[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string; bound: string }>(
          `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY c.oid`,
        );
        return rows.map((r) => `${r.name} ${r.bound}`);
      } finally {
        await client.end();
      }
    }

    /** Appends `n` events of `topic` in requests of 100; returns their seqs. */
    async function appendMany(store: Store, topic: string, n: number, receivedAt: number): Promise<number[]> {
      const seqs: number[] = [];
      for (let i = 0; i < n; i += 100) {
        const events = Array.from({ length: Math.min(100, n - i) }, () => makeEvent(topic, { receivedAt }));
        seqs.push(...expectOk((await store.events.append([{ events, createTopics: true }]))[0]).results.map((r) => r.seq));
      }
      return seqs;
    }

    function openPartitioned(url: string): Store {
      const store = openPgStore({ url, maxConnections: 4, partitionSize: 1_000 });
      opened.push(store);
      return store;
    }

    it("partitions the event log by seq, creating partitions ahead of the appends", async () => {
      const url = await newDatabase();
      const store = openPartitioned(url);
      await store.migrate();
      // After migrate: the (empty) table from before partitioning, and at least one partition ahead.
      expect(await partitionsOf(url)).toEqual([
        "events_before_partitioning FOR VALUES FROM (MINVALUE) TO ('1')",
        "events_from_1 FOR VALUES FROM ('1') TO ('1001')",
        "events_from_1001 FOR VALUES FROM ('1001') TO ('2001')",
      ]);
      const seqs = await appendMany(store, "many", 3_500, T0);
      // Increasing; with gaps where a request ran ahead of the partitions and was inserted again once they existed.
      expect(seqs).toHaveLength(3_500);
      expect([...new Set(seqs)].sort((x, y) => x - y)).toEqual(seqs);
      const read: number[] = [];
      for (let cursor = 0; ;) {
        const page = await store.events.readAfter(cursor, 1_000);
        if (page.length === 0) break;
        read.push(...page.map((e) => e.seq));
        cursor = page.at(-1)!.seq;
      }
      expect(read).toEqual(seqs);
      // Created ahead, off the append path: the partitions end well past the last seq.
      const ends = async () => (await partitionsOf(url)).map((p) => Number(/TO \('(\d+)'\)/.exec(p)?.[1] ?? 0));
      // Half a partition of room at least, whatever the appends left.
      await eventuallyTrue(async () => Math.max(...(await ends())) > seqs.at(-1)! + 500);
      expect((await ends()).length).toBeGreaterThanOrEqual(5);
      expect((await store.topics.get("many"))?.eventCount).toBe(3_500);
    });

    it("keeps a client's event id unique across partitions", async () => {
      const store = openPartitioned(await newDatabase());
      await store.migrate();
      const first = expectOk((await store.events.append([{ events: [makeEvent("ids", { id: "order-1", clientId: true })], createTopics: true }]))[0]);
      await appendMany(store, "ids", 2_500, T0);
      const again = expectOk((await store.events.append([{ events: [makeEvent("ids", { id: "order-1", clientId: true })], createTopics: true }]))[0]);
      expect(again.results).toEqual(first.results);
      expect(again.stored).toEqual([]);
      expect((await store.events.search({ topics: ["ids"], order: "asc", limit: 10 })).filter((e) => e.id === "order-1")).toHaveLength(1);
      expect((await store.topics.get("ids"))?.eventCount).toBe(2_501);
    });

    it("drops whole partitions once every event in them expired, lowering the topics' counts", async () => {
      const url = await newDatabase();
      const store = openPartitioned(url) as PgStore;
      await store.migrate();
      // Partitions for every seq this test uses, so that none is skipped (see the test above) and the bounds are known.
      await store.ensureEventPartitions(4_000);
      const old = await appendMany(store, "old", 2_500, T0); // seqs 1..2500
      await appendMany(store, "kept", 500, T0 + 1); // seqs 2501..3000: the partition 2001..3000 holds both topics
      await appendMany(store, "old", 100, T0); // seqs 3001..3100, in the partition still being written
      const cutoffs: Record<string, number | undefined> = { old: T0 + 1, kept: undefined };
      const removed = await store.events.dropExpiredPartitions((topic) => cutoffs[topic]);
      expect(removed).toEqual({ old: 2_000 });
      const partitions = (await partitionsOf(url)).map((p) => p.split(" ")[0]);
      expect(partitions.slice(0, 2)).toEqual(["events_from_2001", "events_from_3001"]);
      expect((await store.topics.get("old"))?.eventCount).toBe(600);
      expect(await store.events.firstSeq()).toBe(2_001);
      const gone = (await store.events.readAfter(0, 1))[0]!;
      expect(gone.seq).toBe(2_001);
      expect((await store.events.get(`evt_conformance_${"x"}`))?.seq).toBeUndefined();
      // Once the kept topic may expire too, the partition it shared goes; the one still written to never does.
      cutoffs.kept = T0 + 2;
      expect(await store.events.dropExpiredPartitions((topic) => cutoffs[topic])).toEqual({ old: 500, kept: 500 });
      expect(await store.events.firstSeq()).toBe(3_001);
      expect(old).toHaveLength(2_500);
      // Nothing dropped twice, and appends go on.
      expect(await store.events.dropExpiredPartitions((topic) => cutoffs[topic])).toEqual({});
      expect((await appendMany(store, "old", 1, T0))[0]).toBe(3_101);
    });

    it("retention drops the expired partitions first, then deletes the rest row by row", async () => {
      const url = await newDatabase();
      const store = openPartitioned(url) as PgStore;
      await store.migrate();
      await store.ensureEventPartitions(4_000);
      await appendMany(store, "a", 2_500, T0); // partitions 1..1000 and 1001..2000, and half of 2001..3000
      await appendMany(store, "b", 600, T0 + 2 * 3_600_000); // young: the rest of 2001..3000 and 3001..
      const result = await runRetention(store, { list: () => store.topics.list() }, { eventRetentionMs: 3_600_000 }, T0 + 2 * 3_600_000);
      expect(result).toEqual({ removed: 2_500, topics: { a: 2_500 } });
      const partitions = (await partitionsOf(url)).map((p) => p.split(" ")[0]);
      expect(partitions).not.toContain("events_from_1");
      expect(partitions).not.toContain("events_from_1001");
      expect(partitions).toContain("events_from_2001");
      expect((await store.topics.get("a"))?.eventCount).toBe(0);
      expect((await store.topics.get("b"))?.eventCount).toBe(600);
      expect(await store.events.firstSeq()).toBe(2_501);
    });

    it("migrates an event log from before partitioning, keeping every event and seq", async () => {
      const url = await newDatabase();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE TABLE switchboard_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
        for (const m of loadMigrations("postgres").slice(0, 5)) {
          await client.query(m.sql);
          await client.query(`INSERT INTO switchboard_migrations VALUES ($1, $2, 0)`, [m.version, m.name]);
        }
        await client.query(`INSERT INTO topics (name, created_at, updated_at, event_count) VALUES ('legacy', 0, 0, 3)`);
        await client.query(`INSERT INTO events (id, topic, time, data, received_at) SELECT 'legacy-' || g, 'legacy', 0, '{}', 0 FROM generate_series(1, 3) g`);
        await client.query(`UPDATE store_state SET last_seq = 3`);
      } finally {
        await client.end();
      }
      const store = openPartitioned(url);
      expect((await store.migrate()).applied).toEqual(
        loadMigrations("postgres")
          .slice(5)
          .map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`),
      );
      expect((await store.events.readAfter(0, 10)).map((e) => [e.seq, e.id])).toEqual([
        [1, "legacy-1"],
        [2, "legacy-2"],
        [3, "legacy-3"],
      ]);
      expect(await partitionsOf(url)).toContain("events_before_partitioning FOR VALUES FROM (MINVALUE) TO ('4')");
      const again = expectOk(
        (await store.events.append([{ events: [makeEvent("legacy", { id: "legacy-2", clientId: true }), makeEvent("legacy")], createTopics: true }]))[0],
      );
      expect(again.results.map((r) => r.seq)).toEqual([2, 4]);
      expect((await store.events.get("legacy-3"))?.seq).toBe(3);
    });

    it("never reuses a seq after the newest events were deleted and the store reopened", async () => {
      const url = await newDatabase();
      const first = open(url);
      await first.migrate();
      const dropped = expectOk((await first.events.append([{ events: [makeEvent("dropped"), makeEvent("dropped")], createTopics: true }]))[0]);
      await first.topics.delete("dropped");
      await first.close();
      const second = open(url);
      await second.migrate();
      const next = expectOk((await second.events.append([{ events: [makeEvent("kept")], createTopics: true }]))[0]);
      expect(next.results[0]!.seq).toBeGreaterThan(dropped.results[1]!.seq);
    });
  });
}
