/**
 * The dispatcher told of each commit's events: the commit serves as the next page of the log (no read back), and a
 * subscription none of whose topics it has moves past it without reading. On a real SQLite store and real workers,
 * with the store's log reads counted; every subscription must still get exactly its events, once each, in order.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { Dispatcher } from "../../src/delivery/dispatcher.js";
import type { DeliveryStore } from "../../src/delivery/delivery-store.js";
import type { DeliveryOutcome, OutgoingDelivery } from "../../src/delivery/destination.js";
import { LOG_PAGE, LogPages } from "../../src/delivery/log-pages.js";
import type { WebhookClient } from "../../src/delivery/webhooks/send-webhook.js";
import type { StoredEvent, Subscription } from "../../src/store/store.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeEvent, makeSubscription } from "../store/conformance/helpers.js";

const log = pino({ level: "silent" });
const ok: DeliveryOutcome = { ok: true, status: 200, latencyMs: 1, responseExcerpt: "", error: null, gone: false };

let dir: string;
let store: SqliteStore;
let dispatcher: Dispatcher | undefined;
/** Calls of `events.readAfter` (the log reads of the workers). */
let logReads: number;
/** Event ids each subscription was sent, in order. */
let sent: Map<string, string[]>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "switchboard-commit-pages-"));
  store = openSqliteStore({ path: join(dir, "hub.db") });
  await store.migrate();
  logReads = 0;
  sent = new Map();
});

afterEach(async () => {
  await dispatcher?.stop(1_000);
  dispatcher = undefined;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(subs: Array<Partial<Subscription> & { id: string }>): Promise<Dispatcher> {
  for (const { id, ...rest } of subs) await store.subscriptions.create(makeSubscription(id, rest));
  const events = {
    ...store.events,
    readAfter: (cursor: number, limit: number) => {
      logReads++;
      return store.events.readAfter(cursor, limit);
    },
    get: (id: string) => store.events.get(id),
  };
  const deliveryStore = { ...pickStore(store), events } as unknown as DeliveryStore;
  const destination = {
    send: async (d: OutgoingDelivery) => {
      const ids = sent.get(d.subscription.id) ?? [];
      ids.push(d.event.id);
      sent.set(d.subscription.id, ids);
      return ok;
    },
  };
  dispatcher = new Dispatcher({
    store: deliveryStore,
    client: {} as WebhookClient,
    destination,
    log,
    maxInFlight: 1_000,
    disableAfterMs: 60_000,
    publishSystemEvent: async () => {},
    userAgent: "test",
  });
  await dispatcher.start();
  return dispatcher;
}

function pickStore(s: SqliteStore): Omit<DeliveryStore, "events"> {
  return { mode: s.mode, subscriptions: s.subscriptions, deliveries: s.deliveries, leases: s.leases } as Omit<DeliveryStore, "events">;
}

/** Commits one request of events on `topics` (one event each) and returns what was stored. */
async function commit(topics: string[]): Promise<StoredEvent[]> {
  const [outcome] = await store.events.append([{ events: topics.map((t) => makeEvent(t)), createTopics: true }]);
  if (!outcome?.ok) throw new Error("append failed");
  return outcome.stored;
}

const waitFor = (done: () => boolean) =>
  vi.waitFor(
    () => {
      if (!done()) throw new Error(`${total()} sent so far`);
    },
    { timeout: 10_000, interval: 2 },
  );
const total = () => [...sent.values()].reduce((n, ids) => n + ids.length, 0);

it("reads nothing back after the first commit, and a subscription of another topic moves its cursor past it", async () => {
  const d = await start([
    { id: "sub_orders", topic: "orders" },
    { id: "sub_any_order", topic: "orders.**" },
    { id: "sub_elsewhere", topic: "elsewhere" },
  ]);
  // The first commit cannot be a page (the dispatcher does not know where the log ended before it).
  d.notify(await commit(["orders"]));
  await waitFor(() => total() === 1);
  const readsAfterFirst = logReads;
  // Page lookups of the workers: two per commit, by the two subscriptions its topics concern.
  const pageLookups = vi.spyOn(LogPages.prototype, "read");
  const expected: string[] = [];
  for (let i = 0; i < 20; i++) {
    const stored = await commit(["orders", "orders.eu.created"]);
    expected.push(stored[0]!.id);
    d.notify(stored);
    await waitFor(() => (sent.get("sub_orders")?.length ?? 0) === i + 2 && (sent.get("sub_any_order")?.length ?? 0) === i + 1);
  }
  expect(pageLookups).toHaveBeenCalledTimes(2 * 20);
  pageLookups.mockRestore();
  // A commit of four pages: each page after the first is served from memory too.
  const big = await commit(Array.from({ length: 3 * LOG_PAGE + 7 }, () => "orders"));
  d.notify(big);
  await waitFor(() => (sent.get("sub_orders")?.length ?? 0) === 21 + big.length);
  expect(logReads - readsAfterFirst).toBe(0);
  expect(sent.get("sub_orders")!.slice(1)).toEqual([...expected, ...big.map((e) => e.id)]);
  expect(sent.has("sub_elsewhere")).toBe(false);
  await d.stop(1_000);
  dispatcher = undefined;
  // The cursor moved in memory over every commit, and was written at the stop.
  const lastSeq = await store.events.lastSeq();
  expect((await store.subscriptions.get("sub_elsewhere"))?.cursorSeq).toBe(lastSeq);
});

it("delivers every event once, in order, across commits of mixed topics and commits larger than a page", async () => {
  const d = await start([
    { id: "sub_a", topic: "a.*" },
    { id: "sub_b", topic: "b.y" },
    { id: "sub_c", topic: "c" },
  ]);
  const want = new Map<string, string[]>([
    ["sub_a", []],
    ["sub_b", []],
    ["sub_c", []],
  ]);
  const sizes = [1, 3, LOG_PAGE - 1, LOG_PAGE, LOG_PAGE + 1, 2, 3 * LOG_PAGE + 7, 5 * LOG_PAGE + 1, 1, 40];
  let n = 0;
  for (const size of sizes) {
    const topics = Array.from({ length: size }, () => ["a.x", "a.z", "b.y", "d"][n++ % 4]!);
    // One batch on "c" alone now and then: sub_a and sub_b skip it.
    const stored = await commit(size === 2 ? ["c", "c"] : topics);
    for (const e of stored) {
      if (e.topic.startsWith("a.")) want.get("sub_a")!.push(e.id);
      if (e.topic === "b.y") want.get("sub_b")!.push(e.id);
      if (e.topic === "c") want.get("sub_c")!.push(e.id);
    }
    d.notify(stored);
    // Now and then the next commit lands while the workers are still reading.
    if (size % 2 === 0) await waitFor(() => total() === [...want.values()].reduce((s, ids) => s + ids.length, 0));
  }
  await waitFor(() => total() === [...want.values()].reduce((s, ids) => s + ids.length, 0));
  for (const [id, ids] of want) expect(sent.get(id) ?? [], id).toEqual(ids);
});

it("reads the log after a commit it was not told the events of, and takes the next commit's for a page only after that", async () => {
  const d = await start([{ id: "sub_orders", topic: "orders" }]);
  const first = await commit(["orders"]);
  d.notify(first);
  await waitFor(() => total() === 1);
  // A commit without its events (as a caller other than the hub's fan-out may do): the dispatcher no longer knows
  // where the log ends, so the next commit's events are not the page after the first.
  const untold = await commit(["orders"]);
  const third = await commit(["orders"]);
  d.notify();
  d.notify(third);
  await waitFor(() => total() === 3);
  expect(sent.get("sub_orders")).toEqual([first[0]!.id, untold[0]!.id, third[0]!.id]);
});

it("still writes the cursor of a subscription that skips every commit, at least every 10,000 events", async () => {
  const d = await start([{ id: "sub_elsewhere", topic: "elsewhere" }]);
  d.notify(await commit(["orders"]));
  let last = 0;
  for (let i = 0; i < 12; i++) {
    const stored = await commit(Array.from({ length: 1_000 }, () => "orders"));
    last = stored.at(-1)!.seq;
    d.notify(stored);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await vi.waitFor(async () => expect((await store.subscriptions.get("sub_elsewhere"))?.cursorSeq).toBeGreaterThan(last - 10_000), { timeout: 5_000 });
});

it("writes the pending deliveries of every subscription a commit concerns in one transaction", async () => {
  const d = await start([
    { id: "sub_1", topic: "orders" },
    { id: "sub_2", topic: "orders" },
    { id: "sub_3", topic: "orders.*" },
  ]);
  const addAll = vi.spyOn(store.deliveries, "addAll");
  const add = vi.spyOn(store.deliveries, "add");
  for (let i = 1; i <= 5; i++) {
    d.notify(await commit(["orders", "orders.eu"]));
    await waitFor(() => total() === 3 * i);
  }
  expect(addAll.mock.calls.map(([requests]) => requests.map((r) => [r.subscriptionId, r.deliveries.length]))).toEqual(
    Array.from({ length: 5 }, () => [
      ["sub_1", 1],
      ["sub_2", 1],
      ["sub_3", 1],
    ]),
  );
  expect(add).not.toHaveBeenCalled();
});
