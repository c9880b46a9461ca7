import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { StoredEvent, Subscription } from "../../store/store.js";
import { AttemptRecorder } from "../attempt-recorder.js";
import { AttemptSender } from "../attempt-sender.js";
import type { DeliveryStore } from "../delivery-store.js";
import { InFlightSlots } from "../in-flight-slots.js";
import { SubscriptionWorker } from "./subscription-worker.js";
import type { WorkerContext } from "./worker-context.js";

const log = pino({ level: "silent" });
const event = (seq: number) => ({ seq, id: `evt_${seq}`, topic: "orders", key: null }) as unknown as StoredEvent;
const sub = {
  id: "sub_1",
  topic: "orders",
  filter: null,
  ordering: "none",
  rateLimit: null,
  cursorSeq: 0,
  retrySchedule: [0, 5],
  maxInFlight: 10,
  failingSince: null,
  priority: 0,
  active: true,
} as unknown as Subscription;

/** A worker's context on `store` and `sender`: node_a, 10 slots, the real clock, an empty log unless `overrides` say. */
function context(store: DeliveryStore, sender: AttemptSender, overrides: Partial<WorkerContext> = {}): WorkerContext {
  return {
    store,
    log,
    now: Date.now,
    nodeId: "node_a",
    slots: new InFlightSlots(10),
    sender,
    recorder: new AttemptRecorder(store, log),
    admit: (request) => store.deliveries.add(request),
    readLog: async () => [],
    disableAfterMs: 86_400_000,
    ...overrides,
  };
}

describe("SubscriptionWorker", () => {
  it("reads the log again after a commit that arrived while a page's deliveries were written", async () => {
    let releaseWrite!: () => void;
    const writes: number[] = [];
    const store = {
      deliveries: {
        listOpen: async () => [],
        add: ({ cursorSeq }: { cursorSeq: number }) => {
          writes.push(cursorSeq);
          return writes.length === 1 ? new Promise<void>((resolve) => (releaseWrite = resolve)) : Promise.resolve();
        },
        recordAttempts: async () => {},
      },
    } as unknown as DeliveryStore;
    const log_ = [event(1)];
    const reads: number[] = [];
    const readLog = async (cursor: number) => {
      reads.push(cursor);
      return log_.filter((e) => e.seq > cursor);
    };
    const sent: string[] = [];
    const destination = {
      send: async ({ event: e }: { event: StoredEvent }) => {
        sent.push(e.id);
        return { ok: true, status: 200, latencyMs: 1, responseExcerpt: "", error: null, gone: false };
      },
    };
    const sender = new AttemptSender({ store, destination, log, publishSystemEvent: async () => {}, onDisabled: () => {} });
    const t = 1_000;
    const worker = new SubscriptionWorker(sub, {
      store,
      log,
      now: () => t,
      nodeId: "node_a",
      slots: new InFlightSlots(10),
      sender,
      recorder: new AttemptRecorder(store, log),
      admit: (request) => store.deliveries.add(request),
      readLog,
      disableAfterMs: 86_400_000,
    });
    await worker.load();
    worker.wake();
    await vi.waitFor(() => expect(writes).toEqual([1]));
    // Event 2 commits while the deliveries of the page up to 1 are being written.
    log_.push(event(2));
    worker.logMoved();
    releaseWrite();
    await vi.waitFor(() => expect(sent).toEqual(["evt_1", "evt_2"]));
    expect(reads.slice(0, 2)).toEqual([0, 1]);
    await worker.stop();
  });

  it("stops only once the page being admitted has committed, so that the next holder starts from its cursor", async () => {
    const steps: string[] = [];
    let commitPage!: () => void;
    const store = {
      deliveries: {
        listOpen: async () => [],
        advanceCursor: async ({ cursorSeq }: { cursorSeq: number }) => void steps.push(`cursor ${cursorSeq}`),
        recordAttempts: async () => {},
      },
    } as unknown as DeliveryStore;
    const admit = ({ cursorSeq }: { cursorSeq?: number }) =>
      new Promise<void>((resolve) => {
        steps.push(`admitting up to ${cursorSeq}`);
        commitPage = () => {
          steps.push("page committed");
          resolve();
        };
      });
    // A destination that never answers: the admitted deliveries stay open (the next holder loads them).
    const destination = { send: () => new Promise<never>(() => {}) };
    const sender = new AttemptSender({ store, destination, log, publishSystemEvent: async () => {}, onDisabled: () => {} });
    const worker = new SubscriptionWorker(
      { ...sub, maxInFlight: 0 },
      context(store, sender, { admit, readLog: async (cursor) => [event(1), event(2), event(3)].filter((e) => e.seq > cursor) }),
    );
    await worker.load();
    worker.wake();
    await vi.waitFor(() => expect(steps).toEqual(["admitting up to 3"]));
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    commitPage();
    await stopping;
    expect(steps).toEqual(["admitting up to 3", "page committed"]);
  });

  it("does not take an event the store failed to read for gone: no attempt is counted, and it is sent once the store answers", async () => {
    const pending = {
      id: "dlv_1",
      subscriptionId: "sub_1",
      eventSeq: 1,
      eventId: "evt_1",
      orderingKey: null,
      status: "pending",
      attempts: 0,
      nextAttemptAt: 0,
    };
    const recorded: Array<{ deliveryId: string; status: string; attempts: number }> = [];
    let reads = 0;
    const store = {
      deliveries: {
        listOpen: async () => [{ ...pending }],
        add: async () => {},
        recordAttempts: async (records: Array<{ deliveryId: string; status: string; attempts: number }>) => {
          recorded.push(...records);
        },
      },
      events: {
        get: async (id: string) => {
          if (++reads === 1) throw new Error("Connection terminated unexpectedly");
          return { ...event(1), id };
        },
      },
    } as unknown as DeliveryStore;
    const sent: string[] = [];
    const destination = {
      send: async ({ event: e }: { event: StoredEvent }) => {
        sent.push(e.id);
        return { ok: true, status: 200, latencyMs: 1, responseExcerpt: "", error: null, gone: false };
      },
    };
    const sender = new AttemptSender({ store, destination, log, publishSystemEvent: async () => {}, onDisabled: () => {} });
    const recorder = new AttemptRecorder(store, log);
    const worker = new SubscriptionWorker({ ...sub, cursorSeq: 1 }, context(store, sender, { recorder }));
    await worker.load();
    worker.wake();
    await vi.waitFor(() => expect(sent).toEqual(["evt_1"]), { timeout: 5_000 });
    await worker.stop();
    await recorder.flush();
    expect(reads).toBe(2);
    expect(recorded.map((r) => [r.deliveryId, r.status, r.attempts])).toEqual([["dlv_1", "delivered", 1]]);
  });
});
