/**
 * Retry claims between nodes, on a real SQLite store with a real subscription worker: a retry another node holds a
 * claim on is read again and sent once that claim ends (it used to leave the worker for good), and a worker that
 * stops lets go of the retries it claimed and did not send.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { AttemptRecorder } from "../../src/delivery/attempt-recorder.js";
import { AttemptSender } from "../../src/delivery/attempt-sender.js";
import type { DeliveryOutcome, OutgoingDelivery } from "../../src/delivery/destination.js";
import type { DeliveryStore } from "../../src/delivery/delivery-store.js";
import { InFlightSlots } from "../../src/delivery/in-flight-slots.js";
import { CLAIM_MARGIN_MS } from "../../src/delivery/timing.js";
import { SubscriptionWorker } from "../../src/delivery/worker/subscription-worker.js";
import type { StoredEvent, Subscription } from "../../src/store/store.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeSubscription } from "../store/conformance/helpers.js";

const log = pino({ level: "silent" });
const ok: DeliveryOutcome = { ok: true, status: 200, latencyMs: 1, responseExcerpt: "", error: null, gone: false };
const failed: DeliveryOutcome = { ok: false, status: 500, latencyMs: 1, responseExcerpt: "", error: null, gone: false };

let dir: string;
let store: SqliteStore;
/** A second connection to the same file, to read the claims the store does not expose. */
let probe: Database.Database;
const workers: SubscriptionWorker[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "switchboard-claims-"));
  store = openSqliteStore({ path: join(dir, "hub.db") });
  await store.migrate();
  probe = new Database(join(dir, "hub.db"), { readonly: true });
});

afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop();
  probe.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const claimOf = (id: string) => probe.prepare("SELECT claimed_by, claim_expires_at FROM deliveries WHERE id = ?").get(id) as { claimed_by: string | null };

/** One subscription with open deliveries due now, and a worker of node_a sending them through `send`. */
async function worker(
  subscription: Partial<Subscription>,
  deliveryIds: string[],
  send: (d: OutgoingDelivery) => Promise<DeliveryOutcome>,
): Promise<{ worker: SubscriptionWorker; sub: Subscription; recorder: AttemptRecorder }> {
  const sub = makeSubscription("sub_a", { cursorSeq: deliveryIds.length, ...subscription });
  await store.subscriptions.create(sub);
  const now = Date.now();
  await store.deliveries.add({
    subscriptionId: sub.id,
    deliveries: deliveryIds.map((id, i) => ({ id, subscriptionId: sub.id, eventSeq: i + 1, eventId: `evt_${i + 1}`, orderingKey: null, nextAttemptAt: now })),
    now,
  });
  const events = { get: async (id: string) => ({ seq: 1, id, topic: "orders", key: null }) as unknown as StoredEvent };
  const deliveryStore = {
    mode: store.mode,
    subscriptions: store.subscriptions,
    deliveries: store.deliveries,
    leases: store.leases,
    events,
  } as unknown as DeliveryStore;
  const sender = new AttemptSender({ store: deliveryStore, destination: { send }, log, publishSystemEvent: async () => {}, onDisabled: () => {} });
  const recorder = new AttemptRecorder(deliveryStore, log);
  const w = new SubscriptionWorker(sub, {
    store: deliveryStore,
    log,
    now: Date.now,
    nodeId: "node_a",
    slots: new InFlightSlots(10),
    sender,
    recorder,
    admit: (request) => deliveryStore.deliveries.add(request),
    readLog: async () => [],
    disableAfterMs: 86_400_000,
  });
  workers.push(w);
  await w.load();
  w.wake();
  return { worker: w, sub, recorder };
}

/** Waits until the delivery's failed first attempt is recorded; returns when its retry is due. */
async function retryDue(id: string): Promise<number> {
  let due = 0;
  await vi.waitFor(
    async () => {
      const row = await store.deliveries.get(id);
      expect(row?.status).toBe("retrying");
      due = row!.nextAttemptAt;
    },
    { timeout: 5_000, interval: 5 },
  );
  return due;
}

it("a due retry another node claimed and never sent is sent once that claim expires", { timeout: 20_000 }, async () => {
  const attempts: number[] = [];
  await worker({ retrySchedule: [0, 0.3], timeoutMs: 100 }, ["dlv_1"], async (d) => {
    attempts.push(d.attempt);
    return attempts.length === 1 ? failed : ok;
  });
  const due = await retryDue("dlv_1");
  // node_b claims the retry as it comes due, then dies without sending it.
  expect(await store.deliveries.claimRetries({ nodeId: "node_b", deliveryIds: ["dlv_1"], now: due, marginMs: CLAIM_MARGIN_MS })).toEqual(["dlv_1"]);
  const claimEnds = due + 100 + CLAIM_MARGIN_MS;
  await vi.waitFor(async () => expect((await store.deliveries.get("dlv_1"))?.status).toBe("delivered"), { timeout: CLAIM_MARGIN_MS + 5_000, interval: 50 });
  expect(Date.now()).toBeGreaterThanOrEqual(claimEnds);
  expect(attempts).toEqual([1, 2]);
});

it("a retry another node claimed and failed again is sent by this worker at the time that node set", { timeout: 10_000 }, async () => {
  const attempts: number[] = [];
  await worker({ retrySchedule: [0, 0.3, 0.3, 0.3] }, ["dlv_1"], async (d) => {
    attempts.push(d.attempt);
    return attempts.length === 1 ? failed : ok;
  });
  const due = await retryDue("dlv_1");
  // node_b takes the retry over, sends it (it fails) and records the attempt: the next one is due 400 ms later.
  expect(await store.deliveries.claimRetries({ nodeId: "node_b", deliveryIds: ["dlv_1"], now: due, marginMs: CLAIM_MARGIN_MS })).toEqual(["dlv_1"]);
  const next = Date.now() + 400;
  await store.deliveries.recordAttempts([
    {
      deliveryId: "dlv_1",
      subscriptionId: "sub_a",
      attemptedAt: due,
      statusCode: 500,
      latencyMs: 1,
      responseExcerpt: null,
      error: null,
      attempts: 2,
      status: "retrying",
      nextAttemptAt: next,
    },
  ]);
  await vi.waitFor(async () => expect((await store.deliveries.get("dlv_1"))?.status).toBe("delivered"), { timeout: 5_000, interval: 20 });
  expect(Date.now()).toBeGreaterThanOrEqual(next);
  // Its own first attempt, then the third: node_b's second is counted.
  expect(attempts).toEqual([1, 3]);
  expect((await store.deliveries.get("dlv_1"))?.attempts).toBe(3);
});

it("a worker that stops lets go of a retry it claimed and did not send", { timeout: 10_000 }, async () => {
  let finishSecond!: () => void;
  const sent: string[] = [];
  const { worker: w } = await worker({ retrySchedule: [0, 0.3], maxInFlight: 1 }, ["dlv_1", "dlv_2"], async (d) => {
    sent.push(d.deliveryId);
    if (d.deliveryId === "dlv_1") return failed;
    // dlv_2's attempt holds the one slot until the test lets it finish: dlv_1's claimed retry waits behind it.
    return new Promise((resolve) => (finishSecond = () => resolve(ok)));
  });
  await vi.waitFor(() => expect(sent).toEqual(["dlv_1", "dlv_2"]), { timeout: 5_000, interval: 5 });
  await retryDue("dlv_1");
  await vi.waitFor(() => expect(claimOf("dlv_1").claimed_by).toBe("node_a"), { timeout: 5_000, interval: 10 });
  const stopped = w.stop();
  finishSecond();
  await stopped;
  expect(sent).toEqual(["dlv_1", "dlv_2"]);
  expect(claimOf("dlv_1").claimed_by).toBeNull();
  // So another node sends it now, not when the claim would have expired.
  expect(await store.deliveries.claimRetries({ nodeId: "node_b", deliveryIds: ["dlv_1"], now: Date.now(), marginMs: CLAIM_MARGIN_MS })).toEqual(["dlv_1"]);
});
