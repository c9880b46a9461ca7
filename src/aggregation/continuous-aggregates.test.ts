import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore, type SqliteStore } from "../store/sqlite/sqlite-store.js";
import type { NewEvent } from "../store/store.js";
import { ContinuousAggregates } from "./continuous-aggregates.js";

const T0 = Date.UTC(2025, 0, 1);
let serial = 0;

function event(amount: number, minute = 0): NewEvent {
  const data = { amount };
  const id = `evt_backfill_${++serial}`;
  const base = { id, clientId: false, topic: "orders", type: null, source: null, subject: null, key: null, attributes: {} };
  return { ...base, time: T0 + minute * 60_000, data, dataJson: JSON.stringify(data), receivedAt: T0 };
}

describe("ContinuousAggregates backfill", () => {
  let store: SqliteStore;
  let aggregates: ContinuousAggregates;
  const definition = { name: "revenue", topic: "orders", metrics: ["count", "sum:data.amount"], interval: "1h" };

  beforeEach(async () => {
    store = openSqliteStore({ path: ":memory:" });
    await store.migrate();
    aggregates = new ContinuousAggregates({ store, log: pino({ level: "silent" }), pageSize: 2 });
  });
  afterEach(async () => {
    await aggregates.close();
    await store.close();
  });

  const append = async (events: NewEvent[]) => {
    const [outcome] = await store.events.append([{ events, createTopics: true }]);
    expect(outcome!.ok).toBe(true);
  };
  const sum = async () => (await aggregates.read("revenue", T0, T0 + 86_400_000)).buckets.map((b) => b.values);

  it("reads the events before the aggregate a page at a time, in its time range, and counts each once", async () => {
    await append([1, 2, 4, 8, 16].map((n) => event(n)));
    await append([event(32, 90)]); // outside the range asked for
    await aggregates.create(definition);
    await append([event(64)]);
    const started = await aggregates.backfill("revenue", { to: T0 + 3_600_000 });
    expect(started.backfill).toMatchObject({ state: "running", startSeq: 0, cursor: 0 });
    await aggregates.settled();
    const after = await aggregates.get("revenue");
    expect(after.backfill).toMatchObject({ state: "done", cursor: after.createdSeq });
    expect(await sum()).toEqual([{ count: 6, "sum:data.amount": 95 }]);
    await expect(aggregates.backfill("revenue", {})).rejects.toMatchObject({ code: "SB_AGGREGATE_BACKFILL_RUNNING" });
  });

  it("marks a failed backfill failed, and resumes it where it stopped when asked again", async () => {
    await append([1, 2, 4, 8, 16].map((n) => event(n)));
    await aggregates.create(definition);
    const readAfter = store.events.readAfter.bind(store.events);
    let calls = 0;
    store.events.readAfter = async (seq, limit) => {
      if (++calls === 2) throw new Error("the disk is on fire");
      return readAfter(seq, limit);
    };
    await aggregates.backfill("revenue", {});
    await aggregates.settled();
    expect((await aggregates.get("revenue")).backfill).toMatchObject({ state: "failed", cursor: 2 });
    expect(await sum()).toEqual([{ count: 2, "sum:data.amount": 3 }]);
    await aggregates.backfill("revenue", {});
    await aggregates.settled();
    expect((await aggregates.get("revenue")).backfill).toMatchObject({ state: "done", cursor: 5 });
    expect(await sum()).toEqual([{ count: 5, "sum:data.amount": 31 }]);
  });
});
