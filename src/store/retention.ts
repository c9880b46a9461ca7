import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Store, Topic } from "./store.js";

/** How often the hub runs {@link runRetention}. */
export const RETENTION_INTERVAL_MS = 60_000;

/** Events removed per transaction: small enough that ingest never waits on retention for long. */
export const RETENTION_BATCH = 5_000;

/**
 * Where whole partitions can be dropped (PostgreSQL), row deletes stop after this many batches per topic and run:
 * at high volume they fall behind, and expired events then go a partition at a time, which costs next to nothing;
 * at low volume they keep up and remove events as soon as they expire.
 */
export const RETENTION_ROW_BATCHES_WITH_PARTITIONS = 20;

/** Options of {@link runRetention}. */
export interface RetentionOptions {
  /** Info line per topic with its count; errors are thrown, not logged. */
  log?: Logger;
  /** Events per transaction. */
  batch?: number;
}

/** What one run removed, per topic (topics with nothing removed are absent). */
export interface RetentionResult {
  removed: number;
  topics: Record<string, number>;
}

/** The retention that applies to a topic: its own `retentionMs`, else the hub's default; 0 keeps events forever. */
export function effectiveRetentionMs(topic: Topic, config: Pick<Config, "eventRetentionMs">): number {
  return topic.retentionMs ?? config.eventRetentionMs;
}

/**
 * Removes, for every topic with an effective retention above 0, the events received before `now - retention`, in
 * batches of one short transaction each, yielding to the event loop between batches.
 * @example await runRetention(hub.store, hub.topics, hub.config, Date.now())
 */
export async function runRetention(
  store: Store,
  topics: { list(): Promise<Topic[]> },
  config: Pick<Config, "eventRetentionMs">,
  now: number,
  { log, batch = RETENTION_BATCH }: RetentionOptions = {},
): Promise<RetentionResult> {
  const result: RetentionResult = { removed: 0, topics: {} };
  const count = (topic: string, n: number): void => {
    result.topics[topic] = (result.topics[topic] ?? 0) + n;
    result.removed += n;
  };
  const list = await topics.list();
  if (store.events.dropExpiredPartitions) {
    const cutoffs = new Map<string, number | undefined>();
    for (const topic of list) {
      const retentionMs = effectiveRetentionMs(topic, config);
      cutoffs.set(topic.name, retentionMs > 0 ? now - retentionMs : undefined);
    }
    const fallback = config.eventRetentionMs > 0 ? now - config.eventRetentionMs : undefined;
    const dropped = await store.events.dropExpiredPartitions((topic) => (cutoffs.has(topic) ? cutoffs.get(topic) : fallback));
    for (const [topic, n] of Object.entries(dropped)) {
      count(topic, n);
      log?.info({ topic, removed: n }, "retention dropped expired partitions");
    }
  }
  const maxBatches = store.events.dropExpiredPartitions ? RETENTION_ROW_BATCHES_WITH_PARTITIONS : Infinity;
  for (const topic of list) {
    const retentionMs = effectiveRetentionMs(topic, config);
    if (retentionMs <= 0) continue;
    const before = now - retentionMs;
    let removed = 0;
    for (let batches = 1; ; batches++) {
      const n = await store.events.deleteBefore({ topic: topic.name, receivedBefore: before, limit: batch });
      removed += n;
      if (n < batch || batches >= maxBatches) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (removed > 0) {
      count(topic.name, removed);
      log?.info({ topic: topic.name, removed, retentionMs }, "retention removed events");
    }
  }
  return result;
}
