/** Store conformance: continuous aggregates (definitions, cells added at commit, backfill pages counted once). */
import { beforeEach, describe, expect, it } from "vitest";
import { compileContinuousAggregate } from "../../../src/aggregation/continuous-spec.js";
import type { AggregateBackfill, Store } from "../../../src/store/store.js";
import { append, expectHubError, makeEvent, minutes, T0, type SuiteState } from "./helpers.js";

const SPEC = { topic: "orders.*", groupBy: "data.region", metrics: ["count", "sum:data.amount", "min:data.amount", "max:data.amount"], interval: "1m" };

/** Registers the continuous aggregates tests; `state` holds the store of the running test. */
export function continuousAggregatesConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
    store.aggregates.useCompiler((a) => compileContinuousAggregate(a));
  });

  const order = (amount: unknown, region: string, minute: number, topic = "orders.paid") =>
    makeEvent(topic, { data: { amount, region }, time: minutes(minute), receivedAt: minutes(minute) });

  describe("continuous aggregates", () => {
    it("stores definitions with the seq they were created at; refuses a name taken; lists, gets and deletes", async () => {
      await append(store, [order(1, "eu", 0), order(2, "eu", 0)]);
      const created = await store.aggregates.create("revenue", SPEC, T0);
      expect(created).toEqual({ name: "revenue", spec: SPEC, createdAt: T0, createdSeq: await store.events.lastSeq(), backfill: null, publishedUntil: null });
      await expectHubError(store.aggregates.create("revenue", SPEC, T0), "SB_AGGREGATE_EXISTS", 409);
      await store.aggregates.create("another", { ...SPEC, groupBy: undefined }, T0 + 1);
      expect((await store.aggregates.list()).map((a) => a.name)).toEqual(["another", "revenue"]);
      expect(await store.aggregates.get("revenue")).toEqual(created);
      expect(await store.aggregates.delete("revenue")).toBe(true);
      expect(await store.aggregates.delete("revenue")).toBe(false);
      expect(await store.aggregates.get("revenue")).toBeUndefined();
    });

    it("adds each committed batch at commit, one cell per bucket, group and field; not the events before it", async () => {
      await append(store, [order(100, "eu", 0)]); // before: only a backfill counts it
      await store.aggregates.create("revenue", SPEC, T0);
      const outcomes = await store.events.append([
        { events: [order(5, "eu", 0), order(7, "eu", 0), order("n/a", "us", 0)], createTopics: true },
        { events: [order(1, "eu", 1)], createTopics: false, idempotencyKey: "k" }, // the careful way
        { events: [order(3, "us", 1, "users.signed-up")], createTopics: true }, // another topic
      ]);
      expect(outcomes.every((o) => o.ok)).toBe(true);
      await append(store, [order(2, "eu", 0), makeEvent("orders.paid", { data: {}, time: minutes(1) })]);
      const cells = await store.aggregates.cells("revenue", T0, minutes(10));
      expect(cells).toEqual(
        [
          { t: minutes(0), group: "", field: "", n: 0, sum: 0, min: 0, max: 0 },
          { t: minutes(0), group: '"eu"', field: "", n: 3, sum: 0, min: 0, max: 0 },
          { t: minutes(0), group: '"eu"', field: "data.amount", n: 3, sum: 14, min: 2, max: 7 },
          { t: minutes(0), group: '"us"', field: "", n: 1, sum: 0, min: 0, max: 0 },
          { t: minutes(1), group: "", field: "", n: 1, sum: 0, min: 0, max: 0 },
          { t: minutes(1), group: '"eu"', field: "", n: 1, sum: 0, min: 0, max: 0 },
          { t: minutes(1), group: '"eu"', field: "data.amount", n: 1, sum: 1, min: 1, max: 1 },
        ].filter((c) => c.n > 0),
      );
      expect(await store.aggregates.cells("revenue", minutes(1), minutes(2))).toHaveLength(3);
      await store.aggregates.delete("revenue");
      await append(store, [order(9, "eu", 0)]);
      expect(await store.aggregates.cells("revenue", T0, minutes(10))).toEqual([]);
    });

    it("adds a backfill page and moves its cursor only from the cursor expected", async () => {
      await store.aggregates.create("revenue", SPEC, T0);
      const started: AggregateBackfill = { state: "running", from: null, to: minutes(5), startSeq: 0, cursor: 0 };
      expect(await store.aggregates.setBackfill("revenue", started, null)).toBe(true);
      expect(await store.aggregates.setBackfill("revenue", started, null)).toBe(false); // started already
      const cell = { t: minutes(0), group: '"eu"', field: "", n: 2, sum: 0, min: 0, max: 0 };
      const next = { ...started, cursor: 10 };
      expect(await store.aggregates.addBackfillPage("revenue", [cell], next, 0)).toBe(true);
      expect(await store.aggregates.addBackfillPage("revenue", [cell], { ...next, cursor: 20 }, 0)).toBe(false); // another runner's page
      expect(await store.aggregates.cells("revenue", T0, minutes(1))).toEqual([cell]);
      expect((await store.aggregates.get("revenue"))!.backfill).toEqual(next);
      expect(await store.aggregates.addBackfillPage("gone", [cell], next, 10)).toBe(false);
    });

    it("moves the published mark only from the mark expected", async () => {
      await store.aggregates.create("revenue", SPEC, T0);
      expect(await store.aggregates.setPublished("revenue", minutes(5), null)).toBe(true);
      expect(await store.aggregates.setPublished("revenue", minutes(6), null)).toBe(false);
      expect(await store.aggregates.setPublished("revenue", minutes(6), minutes(5))).toBe(true);
      expect((await store.aggregates.get("revenue"))!.publishedUntil).toBe(minutes(6));
    });
  });
}
