import { afterEach, describe, expect, it } from "vitest";
import { HubMetrics } from "./metrics.js";

let metrics: HubMetrics | undefined;
afterEach(() => metrics?.close());

/** The per-topic counter's values by label, as the registry exposes them. */
async function perTopic(m: HubMetrics): Promise<Record<string, number>> {
  const { values } = await m.topicEventsIngested.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.topic), v.value]));
}

const events = (...topics: string[]) => topics.map((topic) => ({ topic }));

describe("per-topic ingest counters", () => {
  it("give the first topics up to the cap a series each and count the rest under other", async () => {
    metrics = new HubMetrics({ topicLabelCap: 2 });
    metrics.countIngested(events("a", "a", "b", "c"));
    metrics.countIngested(events("d", "a", "b", "c"));
    expect(await perTopic(metrics)).toEqual({ a: 3, b: 2, other: 3 });
    expect((await metrics.eventsIngested.get()).values[0]!.value).toBe(8);
  });

  it("with a cap of 0, count every topic under other", async () => {
    metrics = new HubMetrics({ topicLabelCap: 0 });
    metrics.countIngested(events("a", "b"));
    expect(await perTopic(metrics)).toEqual({ other: 2 });
  });
});
