import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { AttemptRecord } from "../store/store.js";
import { AttemptRecorder } from "./attempt-recorder.js";
import type { DeliveryStore } from "./delivery-store.js";

const log = pino({ level: "silent" });
const record = (deliveryId: string, attempts: number) =>
  ({
    deliveryId,
    attemptedAt: attempts,
    statusCode: 200,
    latencyMs: 1,
    responseExcerpt: null,
    error: null,
    status: "delivered",
    attempts,
    nextAttemptAt: null,
  }) as AttemptRecord;

describe("AttemptRecorder", () => {
  it("keeps the records while the store fails and writes them, in order, once it answers", async () => {
    let up = false;
    const calls: string[][] = [];
    const store = {
      deliveries: {
        recordAttempts: async (records: AttemptRecord[]) => {
          calls.push(records.map((r) => `${r.deliveryId}#${r.attempts}`));
          if (!up) throw new Error("Connection terminated unexpectedly");
        },
      },
    } as unknown as DeliveryStore;
    const recorder = new AttemptRecorder(store, log);
    recorder.record(record("dlv_1", 1));
    // One try, failed: flush returns instead of waiting for the database.
    await recorder.flush();
    expect(calls).toEqual([["dlv_1#1"]]);
    expect(recorder.queued).toBe(1);
    recorder.record(record("dlv_2", 1));
    recorder.record(record("dlv_1", 2));
    up = true;
    await vi.waitFor(() => expect(recorder.queued).toBe(0), { timeout: 5_000 });
    expect(calls.at(-1)).toEqual(["dlv_1#1", "dlv_2#1", "dlv_1#2"]);
    recorder.close();
  });
});

describe("AttemptRecorder: group commit", () => {
  /** A store that keeps the size of each write. */
  function countingStore() {
    const writes: number[] = [];
    const store = { deliveries: { recordAttempts: async (records: AttemptRecord[]) => void writes.push(records.length) } } as unknown as DeliveryStore;
    return { store, writes };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it("writes the records of several event-loop turns in one transaction, once the window has passed", async () => {
    // The window's timer on a fake clock, so that a slow machine cannot end it between the turns.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { store, writes } = countingStore();
      const recorder = new AttemptRecorder(store, log);
      for (let i = 0; i < 5; i++) {
        recorder.record(record(`dlv_${i}`, 1));
        await turn();
      }
      vi.advanceTimersByTime(2);
      await turn();
      expect(writes).toEqual([]);
      vi.advanceTimersByTime(1);
      await turn();
      expect(writes).toEqual([5]);
      recorder.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("writes a full batch at the next turn, and flush writes at once", async () => {
    const { store, writes } = countingStore();
    const recorder = new AttemptRecorder(store, log);
    for (let i = 0; i < 512; i++) recorder.record(record(`dlv_${i}`, 1));
    await turn();
    expect(writes).toEqual([512]);
    recorder.record(record("dlv_last", 1));
    await recorder.flush();
    expect(writes).toEqual([512, 1]);
    recorder.close();
  });
});
