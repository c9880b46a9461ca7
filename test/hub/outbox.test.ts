/**
 * The transactional outbox on both stores: an event written with `hub.outbox.publish` in the application's own
 * transaction exists iff that transaction commits, enters the log once and in commit order, and survives the hub
 * dying between the commit and the relay. SQLite runs on a real file, PostgreSQL on a database of its own.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubError } from "../../src/errors.js";
import { createHub, type Hub } from "../../src/hub.js";
import { outboxEvent } from "../../src/hub/outbox/outbox.js";
import { eventually } from "../helpers/hub.js";
import { pgCaller, sqliteCaller, type OutboxCaller } from "../helpers/outbox-caller.js";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import { spawnNode } from "../helpers/process.js";

/** Where one test's hub and application meet: a database, and the application's connection to it. */
interface Target {
  url: string;
  caller(): Promise<OutboxCaller>;
}

/** The outbox tests, for one store. */
function defineOutboxTests(newTarget: () => Promise<Target>, shared: boolean): void {
  const hubs: Hub[] = [];
  const callers: OutboxCaller[] = [];
  let target: Target;
  let caller: OutboxCaller;

  const openHub = async (overrides: Record<string, unknown> = {}) => {
    const hub = await createHub({ databaseUrl: target.url, logLevel: "silent", ...overrides });
    hubs.push(hub);
    return hub;
  };
  /** The ids in the log, in seq order. */
  const logIds = async (hub: Hub) => (await hub.store.events.readAfter(0, 1000)).map((e) => e.id);
  /** Waits until `ids` are in the log; returns the log's ids. */
  const relayed = (hub: Hub, ids: string[]) =>
    eventually(`${ids.length} outbox events relayed`, async () => {
      const all = await logIds(hub);
      return ids.every((id) => all.includes(id)) ? all : undefined;
    });

  beforeAll(async () => {
    target = await newTarget();
  });
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
    for (const c of callers.splice(0)) await c.close();
  });

  const start = async () => {
    const hub = await openHub();
    caller = await target.caller();
    callers.push(caller);
    return hub;
  };

  it("never stores an event whose transaction rolled back; stores a committed one once", async () => {
    const hub = await start();
    const before = await caller.counts();
    const [rolledBack] = await caller.transaction(hub, [{ topic: "orders.created", data: { n: 1 } }], "rollback");
    const [committed] = await caller.transaction(hub, [{ topic: "orders.created", key: "o-1", data: { n: 2 } }], "commit");
    // The relay takes rows in order: once the committed one is in, the rolled back one would be too.
    const all = await relayed(hub, [committed!]);
    expect(all).not.toContain(rolledBack);
    expect(all.filter((id) => id === committed)).toHaveLength(1);
    const event = await hub.store.events.get(committed!);
    expect(event).toMatchObject({ topic: "orders.created", key: "o-1", data: { n: 2 } });
    expect(await caller.counts()).toEqual({ outbox: 0, orders: before.orders + 1 });
  });

  it("relays an event of a live-only topic to the live listeners once, deleting its row and storing nothing", async () => {
    const hub = await start();
    await hub.topics.create({ name: "outbox.live", storage: "none" });
    const live: string[] = [];
    hub.onLiveEvent((e) => live.push(e.id));
    const [id] = await caller.transaction(hub, [{ topic: "outbox.live", data: { n: 1 } }], "commit");
    await eventually("the live event relayed", () => (live.length > 0 ? true : undefined));
    await eventually("its outbox row deleted", async () => ((await caller.counts()).outbox === 0 ? true : undefined));
    expect(live).toEqual([id]);
    expect(await hub.store.events.get(id!)).toBeUndefined();
  });

  it("relays several transactions in commit order, each transaction's events in their order", async () => {
    const hub = await start();
    const ids: string[] = [];
    for (let t = 0; t < 4; t++) {
      const inputs = [0, 1].map((i) => ({ topic: "orders.updated", key: `o-${t}`, data: { t, i } }));
      ids.push(...(await caller.transaction(hub, inputs, "commit")));
    }
    const all = await relayed(hub, ids);
    expect(all.filter((id) => ids.includes(id))).toEqual(ids);
    expect((await caller.counts()).outbox).toBe(0);
  });

  it("relays rows committed while no hub ran, once, when a hub starts", async () => {
    const first = await start();
    await first.close();
    // The closed hub's relay is stopped: the row waits in the outbox.
    const ids = await caller.transaction(first, [{ topic: "orders.created", data: { late: true } }], "commit");
    expect((await caller.counts()).outbox).toBe(1);
    // On PostgreSQL two hubs start at once: each relays what it finds, and the row is stored once. (A SQLite file
    // has one owning process.)
    const [a, b] = shared ? await Promise.all([openHub(), openHub()]) : [await openHub()];
    await relayed(a!, ids);
    await b?.close();
    await a!.close();
    const reopened = await openHub();
    expect((await logIds(reopened)).filter((id) => id === ids[0])).toHaveLength(1);
    expect((await caller.counts()).outbox).toBe(0);
  });

  it("relays, once, what a process SIGKILLed right after its commit left in the outbox", async () => {
    const child = spawnNode("test/helpers/outbox-crash-child.ts", [target.url]);
    const exit = await child.exited;
    expect(exit.signal, child.stderr).toBe("SIGKILL");
    const ids = JSON.parse(/ids (\[.*\])/.exec(child.stdout)![1]!) as string[];
    expect(ids).toHaveLength(3);
    // The kill came in the same turn of the event loop as the commit's reply: nothing was relayed.
    const before = await target.caller();
    callers.push(before);
    expect((await before.counts()).outbox).toBe(3);
    const hub = await start();
    const all = await relayed(hub, ids);
    expect(all.filter((id) => ids.includes(id))).toEqual(ids);
    expect((await caller.counts()).outbox).toBe(0);
  });

  it("stores nothing for a row another relay took, and the rest of the batch all the same", async () => {
    const hub = await start();
    const gone = outboxEvent({ topic: "orders.created", data: { gone: true } }, Date.now());
    const fresh = outboxEvent({ topic: "orders.created", data: { fresh: true } }, Date.now());
    const outcomes = await hub.store.events.append([
      { events: [gone], createTopics: true, outboxId: "987654321" },
      { events: [fresh], createTopics: true },
    ]);
    expect(outcomes[0]).toMatchObject({ ok: false, error: { code: "SB_OUTBOX_RELAYED" } });
    expect(outcomes[1]).toMatchObject({ ok: true });
    const all = await logIds(hub);
    expect(all).toContain(fresh.id);
    expect(all).not.toContain(gone.id);
  });

  it("refuses bad input and a client of the wrong kind before writing anything", async () => {
    const hub = await start();
    const bad: Array<[unknown, unknown, string]> = [
      [caller, { data: { n: 1 } }, "SB_EVENT_INVALID"],
      [caller, { topic: "t", data: { when: new Date(0) } }, "SB_EVENT_INVALID"],
      [caller, { topic: "t", data: { n: 10n } }, "SB_EVENT_INVALID"],
      [caller, { topic: "t" }, "SB_EVENT_INVALID"],
      [caller, { topic: "t", dat: {} }, "SB_EVENT_INVALID"],
      [{ prepare: () => undefined, transaction: () => undefined, name: "elsewhere.db", open: true }, { topic: "t", data: 1 }, "SB_OUTBOX_CLIENT_INVALID"],
      [{}, { topic: "t", data: 1 }, "SB_OUTBOX_CLIENT_INVALID"],
    ];
    for (const [client, input, code] of bad) {
      const publish = () => hub.outbox.publish(client as never, input as never);
      expect(
        publish,
        JSON.stringify(input, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)),
      ).toThrow(HubError);
      try {
        publish();
      } catch (error) {
        expect((error as HubError).code).toBe(code);
      }
    }
    expect((await caller.counts()).outbox).toBe(0);
  });
}

describe("outbox on SQLite", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-outbox-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  let serial = 0;
  defineOutboxTests(async () => {
    const path = join(dir, `hub-${++serial}.db`);
    return { url: `sqlite:${path}`, caller: async () => sqliteCaller(path) };
  }, false);

  it("refuses a Database on another file, and a pg client", async () => {
    const path = join(dir, "own.db");
    const hub = await createHub({ databaseUrl: `sqlite:${path}`, logLevel: "silent" });
    const other = sqliteCaller(join(dir, "other.db"));
    try {
      await expect(other.transaction(hub, [{ topic: "t", data: 1 }], "commit")).rejects.toMatchObject({ code: "SB_OUTBOX_CLIENT_INVALID" });
      const client = new pg.Client();
      expect(() => hub.outbox.publish(client, { topic: "t", data: 1 })).toThrow(/SQLite/);
    } finally {
      await other.close();
      await hub.close();
    }
  });
});

await describeWithPostgres("outbox on PostgreSQL", "runs the outbox tests on PostgreSQL", () => {
  describe("outbox on PostgreSQL", () => {
    let admin: pg.Client;
    const databases: string[] = [];
    let serial = 0;
    beforeAll(async () => {
      admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
    });
    afterAll(async () => {
      for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    });
    defineOutboxTests(async () => {
      const name = `switchboard_outbox_${process.pid}_${++serial}`;
      await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
      databases.push(name);
      const url = databaseUrl(name);
      return { url, caller: () => pgCaller(url) };
    }, true);
  });
});
