import pino from "pino";
import { describe, expect, it } from "vitest";
import type { AttemptRecord, Delivery, StoredEvent, Subscription } from "../store/store.js";
import { AttemptRecorder } from "./attempt-recorder.js";
import { AttemptSender } from "./attempt-sender.js";
import type { DeliveryStore } from "./delivery-store.js";
import type { DeliveryOutcome } from "./destination.js";
import { InFlightSlots } from "./in-flight-slots.js";
import { RetrySweeper, sweepWindow } from "./retry-sweeper.js";
import { CLAIM_MARGIN_MS, LEASE_STALE_AFTER_MS, RETRY_TAKEOVER_AFTER_MS } from "./timing.js";

const TTL = 10_000;
const log = pino({ level: "silent" });

/** The claim node_b makes at time `t` with two free slots. */
function claimAt(t: number) {
  return {
    nodeId: "node_b",
    dueBefore: t - RETRY_TAKEOVER_AFTER_MS,
    now: t,
    marginMs: CLAIM_MARGIN_MS,
    limit: 2,
    leaseStaleBefore: t + TTL - LEASE_STALE_AFTER_MS,
  };
}

describe("sweepWindow", () => {
  it.each([
    [1_000_000, { dueBefore: 1_000_000 - RETRY_TAKEOVER_AFTER_MS, leaseStaleBefore: 1_000_000 + TTL - LEASE_STALE_AFTER_MS }],
    [0, { dueBefore: -RETRY_TAKEOVER_AFTER_MS, leaseStaleBefore: TTL - LEASE_STALE_AFTER_MS }],
  ])("at %i", (now, expected) => {
    expect(sweepWindow(now, TTL)).toEqual(expected);
  });
});

describe("RetrySweeper (fake clock)", () => {
  it("claims what is due by its clock, as many as it has free slots for, and records each attempt", async () => {
    let t = 5_000_000;
    const claims: unknown[] = [];
    const records: AttemptRecord[] = [];
    const delivery = { id: "dlv_1", subscriptionId: "sub_1", eventId: "evt_1", attempts: 1, status: "retrying" } as Delivery;
    const sub = { id: "sub_1", active: true, retrySchedule: [0, 5, 60], failingSince: 1, topic: "orders", url: "http://x" } as unknown as Subscription;
    const store = {
      deliveries: {
        claimDueRetries: async (request: unknown) => {
          claims.push(request);
          return claims.length === 1 ? [delivery] : [];
        },
        recordAttempts: async (batch: AttemptRecord[]) => void records.push(...batch),
      },
      subscriptions: { get: async () => sub, update: async () => sub },
      events: { get: async () => ({ id: "evt_1", topic: "orders" }) as StoredEvent },
    } as unknown as DeliveryStore;
    const slots = new InFlightSlots(3);
    slots.takeNow(); // a worker's attempt in flight: two slots free
    let sent = 0;
    const destination = {
      send: async (): Promise<DeliveryOutcome> => {
        sent++;
        t += 40; // the attempt takes 40 ms of the fake clock
        return { ok: false, status: 503, latencyMs: 40, responseExcerpt: "", error: null, gone: false };
      },
    };
    const recorder = new AttemptRecorder(store, log);
    const sender = new AttemptSender({ store, destination, log, publishSystemEvent: async () => {}, onDisabled: () => {} });
    const sweeper = new RetrySweeper({ store, log, now: () => t, nodeId: "node_b", leaseTtlMs: TTL, slots, sender, recorder });

    await sweeper.sweep();
    expect(claims[0]).toEqual(claimAt(t));
    const startedAt = t;
    await Promise.all(sweeper.attemptsInFlight());
    await recorder.flush();
    expect(sent).toBe(1);
    expect(slots.inFlight).toBe(1);
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record).toMatchObject({ deliveryId: "dlv_1", attemptedAt: startedAt, statusCode: 503, status: "retrying", attempts: 2 });
    // The second delay of the schedule (60 s, ±20% jitter) from the fake clock after the attempt.
    expect(record.nextAttemptAt).toBeGreaterThanOrEqual(startedAt + 40 + 48_000);
    expect(record.nextAttemptAt).toBeLessThanOrEqual(startedAt + 40 + 72_000);

    t += 7_000;
    await sweeper.sweep();
    expect(claims[1]).toEqual(claimAt(t));
    await sweeper.halt();
  });

  it("claims nothing when every slot is taken", async () => {
    const claims: unknown[] = [];
    const store = { deliveries: { claimDueRetries: async (request: unknown) => claims.push(request) } } as unknown as DeliveryStore;
    const slots = new InFlightSlots(1);
    slots.takeNow();
    const recorder = new AttemptRecorder(store, log);
    const sender = new AttemptSender({
      store,
      destination: { send: async () => ({}) as DeliveryOutcome },
      log,
      publishSystemEvent: async () => {},
      onDisabled: () => {},
    });
    const sweeper = new RetrySweeper({ store, log, now: () => 0, nodeId: "node_b", leaseTtlMs: TTL, slots, sender, recorder });
    await sweeper.sweep();
    expect(claims).toEqual([]);
  });
});
