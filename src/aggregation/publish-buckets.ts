/**
 * `publish: true`: each closed bucket of a continuous aggregate becomes an event on `switchboard.aggregate.<name>`, so
 * that streams, webhooks and handlers can use it. Ids are derived from the bucket, so a bucket published twice (two
 * nodes, or a retry after a failure) is stored once.
 */
import { createHash } from "node:crypto";
import type { PublishInput } from "../hub/publish.js";
import type { Store, StoredAggregate } from "../store/store.js";
import { formatTime } from "../time.js";
import type { AggregateBucket } from "./aggregate-spec.js";
import { bucketsOf, specOf } from "./continuous-spec.js";
import { STATS_INTERVALS } from "./stats.js";

/** A bucket is closed this long after its end, so that events arriving a little late are in it. */
export const PUBLISH_LAG_MS = 60_000;
/** Most buckets of one aggregate published per round (the rest in the next ones). */
export const PUBLISH_MAX_BUCKETS = 1_000;
const PER_BATCH = 100;

/** Stores events, all or nothing (the hub's `publish`). */
export type PublishEvents = (events: PublishInput[]) => Promise<unknown>;

/**
 * Publishes the buckets closed as of `now` of every aggregate with `publish`, from the bucket it was created in, then
 * moves its mark. Returns how many events were published.
 */
export async function publishClosedBuckets(store: Store, publish: PublishEvents, now: number): Promise<number> {
  let published = 0;
  for (const aggregate of await store.aggregates.list()) {
    const spec = specOf(aggregate);
    if (spec.publish !== true) continue;
    const intervalMs = STATS_INTERVALS[spec.interval]!;
    const start = aggregate.publishedUntil ?? Math.floor(aggregate.createdAt / intervalMs) * intervalMs;
    const end = Math.min(Math.floor((now - PUBLISH_LAG_MS) / intervalMs) * intervalMs, start + PUBLISH_MAX_BUCKETS * intervalMs);
    if (end <= start) continue;
    const events = bucketsOf(aggregate, await store.aggregates.cells(aggregate.name, start, end)).map((b) => bucketEvent(aggregate, b));
    for (let i = 0; i < events.length; i += PER_BATCH) await publish(events.slice(i, i + PER_BATCH));
    await store.aggregates.setPublished(aggregate.name, end, aggregate.publishedUntil);
    published += events.length;
  }
  return published;
}

/** A bucket as an event: its time is the bucket's start; its data the bucket as `GET /aggregates/{name}` shows it. */
function bucketEvent(aggregate: StoredAggregate, b: AggregateBucket): PublishInput {
  const group = b.group === undefined ? undefined : b.group === null ? null : (JSON.parse(b.group) as unknown);
  const digest = createHash("sha256")
    .update(b.group ?? "")
    .digest("hex")
    .slice(0, 16);
  return {
    topic: `switchboard.aggregate.${aggregate.name}`,
    type: "switchboard.aggregate.bucket",
    source: "switchboard",
    id: `agg_${aggregate.name}_${b.t}_${digest}`,
    time: b.t,
    data: { aggregate: aggregate.name, interval: specOf(aggregate).interval, t: formatTime(b.t), ...(b.group !== undefined && { group }), ...b.values },
  };
}
