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
