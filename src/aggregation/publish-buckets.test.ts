import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PublishInput } from "../hub/publish.js";
import { openSqliteStore, type SqliteStore } from "../store/sqlite/sqlite-store.js";
import type { NewEvent } from "../store/store.js";
import { compileContinuousAggregate } from "./continuous-spec.js";
import { publishClosedBuckets } from "./publish-buckets.js";

const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;
let serial = 0;

function event(minute: number, region: string): NewEvent {
  const data = { region };
  const base = { id: `evt_publish_${++serial}`, clientId: false, topic: "orders", type: null, source: null, subject: null, key: null, attributes: {} };
  return { ...base, time: T0 + minute * MIN, data, dataJson: JSON.stringify(data), receivedAt: T0 };
}

describe("publishClosedBuckets", () => {
  let store: SqliteStore;
  beforeEach(async () => {
    store = openSqliteStore({ path: ":memory:" });
    await store.migrate();
    store.aggregates.useCompiler((a) => compileContinuousAggregate(a));
  });
  afterEach(() => store.close());

  it("publishes each closed bucket once, from the bucket the aggregate was created in, with ids derived from the bucket", async () => {
    const spec = { topic: "orders", groupBy: "data.region", metrics: ["count"], interval: "1m" };
    await store.aggregates.create("by-region", { ...spec, publish: true }, T0 + 30_000);
    await store.aggregates.create("quiet", spec, T0);
    await store.events.append([{ events: [event(0, "eu"), event(0, "us"), event(1, "eu"), event(2, "eu")], createTopics: true }]);
    const published: PublishInput[] = [];
    const collect = async (events: PublishInput[]) => void published.push(...events);
    // At 3:00 the minutes before 2:00 are closed (a minute's lag).
    expect(await publishClosedBuckets(store, collect, T0 + 3 * MIN)).toBe(3);
    expect(published.map((e) => [e.topic, e.time, e.data])).toEqual([
      ["switchboard.aggregate.by-region", T0, { aggregate: "by-region", interval: "1m", t: "2025-01-01T00:00:00.000Z", group: "eu", count: 1 }],
      ["switchboard.aggregate.by-region", T0, { aggregate: "by-region", interval: "1m", t: "2025-01-01T00:00:00.000Z", group: "us", count: 1 }],
      ["switchboard.aggregate.by-region", T0 + MIN, { aggregate: "by-region", interval: "1m", t: "2025-01-01T00:01:00.000Z", group: "eu", count: 1 }],
    ]);
    expect(new Set(published.map((e) => e.id)).size).toBe(3);
    expect(await publishClosedBuckets(store, collect, T0 + 3 * MIN)).toBe(0);
    expect((await store.aggregates.get("by-region"))!.publishedUntil).toBe(T0 + 2 * MIN);
    expect(await publishClosedBuckets(store, collect, T0 + 4 * MIN)).toBe(1);
    expect(published.at(-1)!.data).toMatchObject({ t: "2025-01-01T00:02:00.000Z", count: 1 });
  });

  it("leaves the mark where it was when publishing fails, to try again", async () => {
    await store.aggregates.create("all", { topic: "orders", metrics: ["count"], interval: "1m", publish: true }, T0);
    await store.events.append([{ events: [event(0, "eu")], createTopics: true }]);
    await expect(publishClosedBuckets(store, () => Promise.reject(new Error("no such topic")), T0 + 5 * MIN)).rejects.toThrow("no such topic");
    expect((await store.aggregates.get("all"))!.publishedUntil).toBeNull();
  });
});
