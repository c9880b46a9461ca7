import { loadMigrations } from "../../src/store/migrate.js";
import Database from "better-sqlite3";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { AppendOutcome, EventQuery, Store } from "../../src/store/store.js";
import { describeStoreConformance, makeEvent } from "./conformance/index.js";

function expectOk(outcome: AppendOutcome | undefined): Extract<AppendOutcome, { ok: true }> {
  if (!outcome?.ok) return expect.fail(`append failed: ${outcome ? outcome.error.message : "no outcome"}`);
  return outcome;
}

const dirs: string[] = [];
const paths = new Map<Store, string>();

/** A fresh database file in a temporary folder of its own; removed after the test. */
async function newDatabasePath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-store-"));
  dirs.push(dir);
  return join(dir, "hub.db");
}

function openAt(path: string): Store {
  const store = openSqliteStore({ path });
  paths.set(store, path);
  return store;
}

// Registered at the top level, so it runs after the suites' own afterEach hooks have closed their stores.
afterEach(async () => {
  paths.clear();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` with a direct connection to the file, bypassing the store. */
function withDatabase<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describeStoreConformance("sqlite", async () => openAt(await newDatabasePath()), {
  openWithoutRollups: async () => openSqliteStore({ path: await newDatabasePath(), rollups: false }),
  async recordMigration(store, version) {
    withDatabase(paths.get(store)!, (db) => {
      db.prepare(`INSERT INTO switchboard_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(version, "from_the_future", Date.now());
    });
  },
});

describe("SQLite store", () => {
  const opened: Store[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });

  async function open(path: string): Promise<Store> {
    const store = openAt(path);
    opened.push(store);
    await store.migrate();
    return store;
  }

  it("keeps data, seq, dedup state and counters across a reopen", async () => {
    const path = await newDatabasePath();
    const first = await open(path);
    const stored = expectOk(
      (
        await first.events.append([
          {
            events: [makeEvent("orders", { id: "client-1", clientId: true, data: { v: 1 } }), makeEvent("orders"), makeEvent("users")],
            idempotencyKey: "key-1",
            createTopics: true,
          },
        ])
      )[0],
    );
    const seqs = stored.results.map((r) => r.seq);
    await first.close();

    const second = await open(path);
    expect(await second.migrate()).toEqual({ applied: [], version: loadMigrations("sqlite").at(-1)!.version });
    expect(await second.events.lastSeq()).toBe(seqs[2]);
    expect(await second.events.firstSeq()).toBe(seqs[0]);
    expect((await second.events.get("client-1"))?.data).toEqual({ v: 1 });
    expect((await second.events.readAfter(0, 10)).map((e) => e.seq)).toEqual(seqs);
    expect(await second.topics.get("orders")).toMatchObject({ eventCount: 2 });
    expect(await second.stats()).toEqual({ events: 3, topics: 2 });

    // The topics are known without createTopics, the next seq follows on, and a repeated client id and
    // Idempotency-Key still answer with the first results.
    const [next, repeat, replay] = (
      await second.events.append([
        { events: [makeEvent("users")], createTopics: false },
        { events: [makeEvent("orders", { id: "client-1", clientId: true, data: { v: 2 } })], createTopics: true },
        { events: [makeEvent("orders")], idempotencyKey: "key-1", createTopics: true },
      ])
    ).map(expectOk);
    expect(next!.results[0]!.seq).toBe(seqs[2]! + 1);
    expect(repeat!.replayed).toBe(true);
    expect(repeat!.results).toEqual([{ id: "client-1", seq: seqs[0], topic: "orders" }]);
    expect(replay!.replayed).toBe(true);
    expect(replay!.results).toEqual(stored.results);
    expect(await second.stats()).toEqual({ events: 4, topics: 2 });
  });

  it("keeps the Idempotency-Keys of a database from before per-publisher keys (0009) for auth-off requests", async () => {
    const path = await newDatabasePath();
    const db = new Database(path);
    db.exec(`CREATE TABLE switchboard_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    for (const m of loadMigrations("sqlite").slice(0, 8)) {
      db.exec(m.sql);
      db.prepare(`INSERT INTO switchboard_migrations VALUES (?, ?, 0)`).run(m.version, m.name);
    }
    db.prepare(`INSERT INTO idempotency_keys (key, results, created_at) VALUES ('old-key', ?, 0)`).run(
      JSON.stringify([{ id: "evt_old", seq: 7, topic: "orders" }]),
    );
    db.close();
    const store = openAt(path);
    opened.push(store);
    expect((await store.migrate()).applied).toEqual(
      loadMigrations("sqlite")
        .slice(8)
        .map((m) => `${String(m.version).padStart(4, "0")}_${m.name}`),
    );
    const [open, scoped] = (
      await store.events.append([
        { events: [makeEvent("orders")], idempotencyKey: "old-key", createTopics: true },
        { events: [makeEvent("orders")], idempotencyKey: "old-key", publisher: "key_a", createTopics: true },
      ])
    ).map(expectOk);
    expect(open!.replayed).toBe(true);
    expect(open!.results).toEqual([{ id: "evt_old", seq: 7, topic: "orders" }]);
    expect(scoped!.replayed).toBe(false);
  });

  // The store keeps the highest seq given out (store_state), so deleting the newest events cannot bring it back.
  it("never reuses a seq after the newest events were deleted and the file reopened", async () => {
    const path = await newDatabasePath();
    const first = await open(path);
    expectOk((await first.events.append([{ events: [makeEvent("kept")], createTopics: true }]))[0]);
    const dropped = expectOk((await first.events.append([{ events: [makeEvent("dropped"), makeEvent("dropped")], createTopics: true }]))[0]);
    await first.topics.delete("dropped");
    await first.close();

    const second = await open(path);
    const next = expectOk((await second.events.append([{ events: [makeEvent("kept")], createTopics: true }]))[0]);
    expect(next.results[0]!.seq).toBeGreaterThan(dropped.results[1]!.seq);
  });

  it("takes back only its own rows when a multi-row insert meets a row another writer put at one of its seqs", async () => {
    const path = await newDatabasePath();
    const store = await open(path);
    const first = expectOk((await store.events.append([{ events: [makeEvent("t")], createTopics: true }]))[0]);
    const foreignSeq = first.results[0]!.seq + 4;
    // Not a supported set-up (one store per file): the store's seq in memory is now stale for the next 8-row statement.
    withDatabase(path, (db) =>
      db.prepare(`INSERT INTO events (seq, id, topic, time, data, received_at) VALUES (?, 'evt_foreign', 't', 0, '{}', 0)`).run(foreignSeq),
    );
    const [outcome] = await store.events.append([{ events: Array.from({ length: 10 }, () => makeEvent("t")), createTopics: true }]);
    expect(outcome!.ok).toBe(false);
    expect((await store.events.readAfter(0, 100)).map((e) => [e.seq, e.id])).toEqual([
      [first.results[0]!.seq, first.results[0]!.id],
      [foreignSeq, "evt_foreign"],
    ]);
  });

  it("runs in WAL mode", async () => {
    const path = await newDatabasePath();
    await open(path);
    expect(withDatabase(path, (db) => db.pragma("journal_mode", { simple: true }))).toBe("wal");
  });

  it("searches a topic and time range through the index events_topic_time", async () => {
    const path = await newDatabasePath();
    const store = await open(path);
    expectOk(
      (
        await store.events.append([
          { events: Array.from({ length: 20 }, (_, i) => makeEvent(i % 2 ? "orders" : "users", { time: 1_000 + i })), createTopics: true },
        ])
      )[0],
    );

    // Capture the statement the store really runs, with its parameters.
    const runs: Array<{ sql: string; params: unknown[] }> = [];
    const prepare = Database.prototype.prepare;
    const spy = vi.spyOn(Database.prototype, "prepare").mockImplementation(function (this: Database.Database, sql: string) {
      const statement = prepare.call(this, sql) as Database.Statement<unknown[]>;
      const all = statement.all.bind(statement);
      Object.assign(statement, {
        all: (...params: unknown[]) => {
          runs.push({ sql, params });
          return all(...params);
        },
      });
      return statement;
    });
    const queries: EventQuery[] = [
      { topics: ["orders"], fromTime: 1_003, toTime: 1_015, order: "asc", limit: 100 },
      { topics: ["orders"], fromTime: 1_003, toTime: 1_015, order: "desc", limit: 100 },
      { topics: ["orders"], fromTime: 1_003, toTime: 1_015, after: { time: 1_005, seq: 6 }, order: "asc", limit: 100 },
    ];
    const found: number[][] = [];
    try {
      for (const query of queries) found.push((await store.events.search(query)).map((e) => e.time));
    } finally {
      spy.mockRestore();
    }
    expect(found).toEqual([
      [1_003, 1_005, 1_007, 1_009, 1_011, 1_013],
      [1_013, 1_011, 1_009, 1_007, 1_005, 1_003],
      [1_007, 1_009, 1_011, 1_013],
    ]);
    expect(runs).toHaveLength(queries.length);

    withDatabase(path, (db) => {
      for (const { sql, params } of runs) {
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
        expect(plan.join("\n")).toMatch(/^SEARCH events USING INDEX events_topic_time \(topic=\? AND time>\? AND time<\?\)$/);
      }
    });
  });
});
