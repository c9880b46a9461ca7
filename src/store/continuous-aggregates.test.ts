import { describe, expect, it } from "vitest";
import { CellBatch, type AggregateCell, type AggregateContribution, type CompiledAggregate } from "./continuous-aggregates.js";
import type { StoredEvent } from "./types.js";

/** The cells summed one by one under a key: what a batch must hold, in first-seen order. */
function reference(contributions: ReadonlyArray<AggregateContribution | undefined>): AggregateCell[] {
  const cells = new Map<string, AggregateCell>();
  const add = (t: number, group: string, field: string, v: number): void => {
    const key = JSON.stringify([t, group, field]);
    const cell = cells.get(key);
    const value = field === "" ? 0 : v;
    if (!cell) cells.set(key, { t, group, field, n: 1, sum: value, min: value, max: value });
    else Object.assign(cell, { n: cell.n + 1, sum: cell.sum + value, min: Math.min(cell.min, value), max: Math.max(cell.max, value) });
  };
  for (const c of contributions) {
    if (!c) continue;
    add(c.t, c.group, "", 1);
    for (const [field, v] of c.values) add(c.t, c.group, field, v);
  }
  return [...cells.values()];
}

describe("CellBatch", () => {
  it("sums each event into its cells, in runs of one bucket and group, alternating ones, and fields that come and go", () => {
    const contributions: Array<AggregateContribution | undefined> = [
      {
        t: 0,
        group: "",
        values: [
          ["a", 1],
          ["b", 2],
        ],
      },
      {
        t: 0,
        group: "",
        values: [
          ["a", -3],
          ["b", 5],
        ],
      },
      { t: 0, group: "", values: [["b", 7]] }, // a field missing: the next one takes the first's place
      undefined, // an event the aggregate does not count
      {
        t: 0,
        group: "",
        values: [
          ["a", 4],
          ["c", 0.5],
          ["b", 1],
        ],
      },
      { t: 0, group: "x", values: [["a", 9]] },
      { t: 0, group: "", values: [["a", 2]] },
      { t: 0, group: "x", values: [["a", -9]] },
      { t: 60_000, group: "x", values: [] },
      {
        t: 60_000,
        group: "x",
        values: [
          ["a", 6],
          ["b", 6],
        ],
      },
      {
        t: 0,
        group: "",
        values: [
          ["b", 100],
          ["a", 100],
        ],
      }, // back to an earlier bucket, its fields in another order
    ];
    const events = contributions.map((_, seq) => ({ seq }) as unknown as StoredEvent);
    const compiled: CompiledAggregate = (e) => contributions[e.seq];
    const batch = new CellBatch();
    batch.add("agg", compiled, events);
    expect(batch.cells()).toEqual(reference(contributions));
    expect(batch.columns.name.every((n) => n === "agg")).toBe(true);
  });
});
