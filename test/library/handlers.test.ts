/**
 * Durable in-process handlers (`hub.handle`), on a real SQLite file and a real PostgreSQL database: retries with
 * backoff and jitter, maxErrors, priority, concurrency, ordering by key, restarts and pause on unregister.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HubError } from "../../src/errors.js";
import type { ErrorInfo, Hub } from "../../src/hub.js";
import { eventually } from "../helpers/hub.js";
import { deliveriesOf, gate, handlerId, newPlace, type HubPlace, type StoreKind } from "../helpers/library.js";
import { describeWithPostgres } from "../helpers/postgres.js";

defineHandlerTests("sqlite");
await describeWithPostgres("handlers on PostgreSQL", "runs durable handlers on PostgreSQL", () => defineHandlerTests("postgres"));

function defineHandlerTests(kind: StoreKind): void {
  describe(`handlers (${kind})`, () => {
    let place: HubPlace;
    afterEach(async () => {
      await place?.dispose();
    });
    const open = async (options: Parameters<HubPlace["open"]>[0] = {}): Promise<Hub> => {
      place ??= await newPlace(kind);
      return place.open(options);
    };
    const fresh = async () => {
      place = await newPlace(kind);
    };

    it("retries a failing run after its backoff, with the same delivery id, and records every attempt", { timeout: 20_000 }, async () => {
      await fresh();
      const errors: Array<[string, ErrorInfo]> = [];
      const hub = await open({ onError: (err, info) => errors.push([(err as Error).message, info]) });
      const runs: Array<{ attempt: number; deliveryId: string }> = [];
      hub.handle(
        "orders.created",
        async (_event, ctx) => {
          runs.push({ attempt: ctx.attempt, deliveryId: ctx.deliveryId });
          if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
        },
        { name: "receipt", backoff: [0.02, 0.05], maxErrors: 5 },
      );
      await hub.start();
      const [published] = (await hub.publish({ topic: "orders.created", key: "o-1", data: { total: 120 } })).results;
      const id = await handlerId(hub, "receipt");
      const delivery = await eventually("the delivery", async () => (await deliveriesOf(hub, id)).find((d) => d.status === "delivered"));
      expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(new Set(runs.map((r) => r.deliveryId))).toEqual(new Set([delivery!.id]));
      expect(delivery!.eventId).toBe(published!.id);
      const attempts = await hub.store.deliveries.listAttempts(delivery!.id);
      expect(attempts.map((a) => a.error)).toEqual(["boom 1", "boom 2", null]);
      expect(errors.map(([message, info]) => [message, info.handler, info.attempt, info.event?.id])).toEqual([
        ["boom 1", "receipt", 1, published!.id],
        ["boom 2", "receipt", 2, published!.id],
      ]);
    });

    it("jitters array backoffs by ±20% and uses a function backoff's ms as they are", { timeout: 20_000 }, async () => {
      await fresh();
      const clock = { t: 1_800_000_000_000 };
      const hub = await open({ now: () => clock.t });
      hub.handle("jitter.*", () => Promise.reject(new Error("down")), { name: "jittered", backoff: [100] });
      hub.handle("jitter.*", () => Promise.reject(new Error("down")), { name: "computed", backoff: (attempt) => attempt * 7_000 + 3 });
      await hub.start();
      await hub.publish(Array.from({ length: 8 }, (_, i) => ({ topic: "jitter.x", data: { i } })));
      const waits = async (name: string) => {
        const ds = await deliveriesOf(hub, await handlerId(hub, name));
        return ds.length === 8 && ds.every((d) => d.status === "retrying") ? ds.map((d) => d.nextAttemptAt - clock.t) : undefined;
      };
      const jittered = await eventually("eight retrying deliveries", () => waits("jittered"));
      expect(
        jittered.every((w) => w >= 80_000 && w <= 120_000),
        `waits ${jittered.join()}`,
      ).toBe(true);
      expect(new Set(jittered).size).toBeGreaterThan(1);
      expect(await eventually("eight retrying deliveries", () => waits("computed"))).toEqual(new Array(8).fill(7_003));
    });

    it("makes a delivery dead after maxErrors failed runs, and a manual retry runs it again", { timeout: 20_000 }, async () => {
      await fresh();
      const infos: ErrorInfo[] = [];
      const hub = await open({ onError: (_err, info) => info.handler && infos.push(info) });
      let calls = 0;
      let fail = true;
      hub.handle(
        "pay.*",
        () => {
          calls++;
          if (fail) throw new TypeError("card declined");
        },
        { name: "charge", maxErrors: 3, backoff: [0] },
      );
      await hub.start();
      await hub.publish({ topic: "pay.requested", data: {} });
      const id = await handlerId(hub, "charge");
      const dead = await eventually("a dead delivery", async () => (await deliveriesOf(hub, id)).find((d) => d.status === "dead"));
      expect(calls).toBe(3);
      expect(dead.attempts).toBe(3);
      expect(dead.lastError).toBe("card declined");
      expect(infos.map((i) => i.attempt)).toEqual([1, 2, 3]);
      fail = false;
      await hub.subscriptions.retryDelivery(dead.id);
      await eventually("delivered after the retry", async () => ((await hub.store.deliveries.get(dead.id))?.status === "delivered" ? true : undefined));
      expect(calls).toBe(4);
    });

    it("runs the handler of higher priority first while the hub's concurrency is all in use", { timeout: 20_000 }, async () => {
      await fresh();
      const hub = await open({ deliveryConcurrency: 1 });
      const order: string[] = [];
      const blocker = gate();
      const blocking = gate();
      hub.handle(
        "gate",
        async () => {
          blocking.open();
          await blocker.opened;
        },
        { name: "gatekeeper", priority: 100 },
      );
      await hub.start();
      await hub.publish({ topic: "gate", data: {} });
      await blocking.opened; // the one slot is taken
      const low = hub.handle("work", (e) => void order.push(`low:${(e.data as { i: number }).i}`), { name: "low", priority: 1, concurrency: 4 });
      const high = hub.handle("work", (e) => void order.push(`high:${(e.data as { i: number }).i}`), { name: "high", priority: 50, concurrency: 4 });
      await Promise.all([low.ready, high.ready]);
      await hub.publish(Array.from({ length: 5 }, (_, i) => ({ topic: "work", data: { i } })));
      await eventually("both handlers waiting for the slot", () => (hub.dispatcher.waitingForSlots === 2 ? true : undefined));
      blocker.open();
      await eventually("all runs", () => (order.length === 10 ? true : undefined));
      expect(order).toEqual([...[0, 1, 2, 3, 4].map((i) => `high:${i}`), ...[0, 1, 2, 3, 4].map((i) => `low:${i}`)]);
    });

    it("keeps at most `concurrency` runs of a handler in flight", { timeout: 20_000 }, async () => {
      await fresh();
      const hub = await open();
      let running = 0;
      let most = 0;
      let done = 0;
      hub.handle(
        "batch",
        async () => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 15));
          running--;
          done++;
        },
        { name: "pool", concurrency: 3 },
      );
      await hub.start();
      await hub.publish(Array.from({ length: 12 }, (_, i) => ({ topic: "batch", data: { i } })));
      await eventually("twelve runs", () => (done === 12 ? true : undefined));
      expect(most).toBe(3);
    });

    it("with ordering by key, runs a key's events in order through failures, other keys going ahead", { timeout: 20_000 }, async () => {
      await fresh();
      const hub = await open();
      const runs: string[] = [];
      const failures = new Map<string, number>([["a1", 2]]);
      hub.handle(
        "ordered",
        (e) => {
          const { n } = e.data as { n: string };
          runs.push(n);
          const left = failures.get(n) ?? 0;
          if (left > 0) {
            failures.set(n, left - 1);
            throw new Error(`${n} failed`);
          }
        },
        { name: "ordered", ordering: "key", concurrency: 8, backoff: [0.03] },
      );
      await hub.start();
      await hub.publish([
        { topic: "ordered", key: "a", data: { n: "a1" } },
        { topic: "ordered", key: "a", data: { n: "a2" } },
        { topic: "ordered", key: "b", data: { n: "b1" } },
        { topic: "ordered", key: "a", data: { n: "a3" } },
        { topic: "ordered", key: "b", data: { n: "b2" } },
      ]);
      await eventually("every event run", () => (runs.filter((n) => n.startsWith("a")).length === 5 && runs.includes("b2") ? true : undefined));
      expect(runs.filter((n) => n.startsWith("a"))).toEqual(["a1", "a1", "a1", "a2", "a3"]);
      expect(runs.filter((n) => n.startsWith("b"))).toEqual(["b1", "b2"]);
      // b did not wait for a's retries.
      expect(runs.indexOf("b2")).toBeLessThan(runs.lastIndexOf("a1"));
    });

    it("continues after a restart where it left off: no run again of what was done, retries and new events run", { timeout: 30_000 }, async () => {
      await fresh();
      const clock = { offset: 0 };
      const now = () => Date.now() + clock.offset;
      const first = await open({ now });
      const runs1: string[] = [];
      first.handle(
        "jobs",
        (e) => {
          const { n } = e.data as { n: string };
          runs1.push(n);
          if (n === "e2") throw new Error("not yet");
        },
        { name: "worker", backoff: [3600] },
      );
      await first.start();
      await first.publish([
        { topic: "jobs", data: { n: "e1" } },
        { topic: "jobs", data: { n: "e2" } },
      ]);
      const id = await handlerId(first, "worker");
      await eventually("e1 delivered, e2 retrying", async () => {
        const ds = await deliveriesOf(first, id);
        return ds.map((d) => d.status).join() === "delivered,retrying" ? true : undefined;
      });
      await first.close();

      // Two hours later: e2's retry is due; e3 is published before the handlers start.
      clock.offset = 2 * 3600_000;
      const second = await open({ now });
      const runs2: Array<[string, number]> = [];
      second.handle("jobs", (e, ctx) => void runs2.push([(e.data as { n: string }).n, ctx.attempt]), { name: "worker", backoff: [3600] });
      await second.publish({ topic: "jobs", data: { n: "e3" } });
      await second.start();
      await eventually("e2 and e3 run", () => (runs2.length === 2 ? true : undefined));
      expect(runs1).toEqual(["e1", "e2"]);
      expect(runs2.sort()).toEqual([
        ["e2", 2],
        ["e3", 1],
      ]);
      await eventually("every delivery recorded delivered", async () =>
        (await deliveriesOf(second, id)).map((d) => d.status).join() === "delivered,delivered,delivered" ? true : undefined,
      );
    });

    it("pauses, not deletes, a handler that a later start does not register, and resumes it where it stopped", { timeout: 30_000 }, async () => {
      await fresh();
      const first = await open();
      first.handle("t", () => {}, { name: "kept" });
      first.handle("t", () => {}, { name: "dropped" });
      await first.start();
      const droppedId = await handlerId(first, "dropped");
      await first.close();

      const second = await open();
      second.handle("t", () => {}, { name: "kept" });
      await second.start();
      const paused = await second.store.subscriptions.get(droppedId);
      expect(paused).toMatchObject({ active: false, url: "function:dropped" });
      expect(paused!.disabledReason).toMatch(/no handler of this name was registered at the last hub.start/);
      await second.publish({ topic: "t", data: { n: 1 } });
      await second.close();

      const third = await open();
      const seen: number[] = [];
      third.handle("t", (e) => void seen.push((e.data as { n: number }).n), { name: "dropped" });
      await third.start();
      expect((await third.store.subscriptions.get(droppedId))?.active).toBe(true);
      await eventually("the event published while it was paused", () => (seen.length === 1 ? true : undefined));
      expect(seen).toEqual([1]);
    });
  });
}

describe("hub.handle refuses bad options with the catalog's errors", () => {
  let place: HubPlace;
  let hub: Hub;
  beforeAll(async () => {
    place = await newPlace("sqlite");
    hub = await place.open();
  });
  afterAll(() => place.dispose());
  const noop = () => {};
  // [topic, options, code, message]
  const cases: Array<[unknown, Record<string, unknown> | undefined, string, RegExp]> = [
    ["t", undefined, "SB_HANDLER_INVALID", /options with at least a name/],
    ["t", { name: "" }, "SB_HANDLER_INVALID", /name must be/],
    ["t", { name: "has space" }, "SB_HANDLER_INVALID", /name must be/],
    ["orders..x", { name: "n" }, "SB_HANDLER_INVALID", /topic/],
    ["t", { name: "n", filter: "data.total >" }, "SB_FILTER_INVALID", /./],
    ["t", { name: "n", maxErrors: 0 }, "SB_HANDLER_INVALID", /maxErrors must be a whole number from 1 to 50/],
    ["t", { name: "n", backoff: [] }, "SB_HANDLER_INVALID", /backoff must be a non-empty array/],
    ["t", { name: "n", backoff: [1, -2] }, "SB_HANDLER_INVALID", /backoff\[1\]/],
    ["t", { name: "n", backoff: "fast" }, "SB_HANDLER_INVALID", /backoff must be/],
    ["t", { name: "n", priority: 1.5 }, "SB_HANDLER_INVALID", /priority must be a whole number/],
    ["t", { name: "n", concurrency: 0 }, "SB_HANDLER_INVALID", /concurrency must be a whole number from 1 to 1000/],
    ["t", { name: "n", ordering: "fifo" }, "SB_HANDLER_INVALID", /ordering must be "none" or "key"/],
    ["t", { name: "n", start: "yesterday-ish" }, "SB_HANDLER_INVALID", /start must be/],
  ];

  it.each(cases)("%j %j → %s", (topic, options, code, message) => {
    let thrown: unknown;
    try {
      hub.handle(topic as string, noop, options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HubError);
    expect((thrown as HubError).code).toBe(code);
    expect((thrown as HubError).details).toMatch(message);
  });

  it("refuses a second handler of the same name, and a handler that is not a function", async () => {
    hub.handle("t", noop, { name: "twice" });
    expect(() => hub.handle("u", noop, { name: "twice" })).toThrow(expect.objectContaining({ code: "SB_HANDLER_EXISTS" }));
    expect(() => hub.handle("t", "nope" as never, { name: "x" })).toThrow(expect.objectContaining({ code: "SB_HANDLER_INVALID" }));
  });
});
