/** Store conformance: aggregation over the events' data in SQL. */
import { beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/store/store.js";
import { append, makeEvent, T0, type SuiteState } from "./helpers.js";

/** Registers the aggregation tests; `state` holds the store of the running test. */
export function aggregateConformance(state: SuiteState): void {
  let store: Store;
  beforeEach(() => {
    store = state.store;
  });

  describe("aggregate", () => {
    beforeEach(async () => {
      const at = (minute: number) => T0 + minute * 60_000;
      await append(store, [
        makeEvent("orders.created", { time: at(1), type: "c", data: { action: "buy", amount: 10, nested: { ms: 5 } } }),
        makeEvent("orders.created", { time: at(2), type: "c", data: { action: "buy", amount: 2.5, nested: { ms: 7 } } }),
        makeEvent("orders.created", { time: at(3), type: "c", data: { action: "sell", amount: "3" } }),
        makeEvent("orders.eu.created", { time: at(61), data: { action: 1, amount: -4 } }),
        makeEvent("users", { time: at(4), data: { amount: 100 } }),
      ]);
    });

    const base = { fromTime: T0, toTime: T0 + 86_400_000, topicPrefixes: ["orders."], fields: [["amount"], ["nested", "ms"]] };

    it("counts per bucket and data group, with each field's numbers (count, sum, min, max)", async () => {
      const rows = await store.events.aggregate({ ...base, intervalMs: 3_600_000, groupBy: { path: ["action"] } });
      expect(rows).toEqual([
        {
          t: T0,
          group: '"buy"',
          count: 2,
          fields: [
            { n: 2, sum: 12.5, min: 2.5, max: 10 },
            { n: 2, sum: 12, min: 5, max: 7 },
          ],
          percentiles: [],
        },
        {
          t: T0,
          group: '"sell"',
          count: 1,
          fields: [
            { n: 0, sum: null, min: null, max: null },
            { n: 0, sum: null, min: null, max: null },
          ],
          percentiles: [],
        },
        {
          t: T0 + 3_600_000,
          group: "1",
          count: 1,
          fields: [
            { n: 1, sum: -4, min: -4, max: -4 },
            { n: 0, sum: null, min: null, max: null },
          ],
          percentiles: [],
        },
      ]);
    });

    it("gives one bucket for the range without an interval, and groups by an envelope field (null first)", async () => {
      const rows = await store.events.aggregate({ fromTime: T0, toTime: T0 + 86_400_000, fields: [], groupBy: { envelope: "type" } });
      expect(rows.map((r) => [r.t, r.group, r.count])).toEqual([
        [T0, null, 2],
        [T0, '"c"', 3],
      ]);
      const one = await store.events.aggregate({ fromTime: T0, toTime: T0 + 86_400_000, topics: ["users"], type: "nope", fields: [] });
      expect(one).toEqual([]);
    });

    it("computes nearest-rank percentiles where the store can, and refuses them where it cannot", async () => {
      const query = {
        ...base,
        fields: [["amount"]],
        percentiles: [
          { field: 0, p: 0.5 },
          { field: 0, p: 1 },
        ],
      };
      if (!store.events.aggregatesPercentiles) {
        await expect(store.events.aggregate(query)).rejects.toThrow(/percentiles/); // SQLite: the hub reads the events instead
        return;
      }
      expect((await store.events.aggregate(query)).map((r) => r.percentiles)).toEqual([[2.5, 10]]);
    });
  });
}
