import type { AggregateBucket } from "../../aggregation/aggregate-spec.js";
import { specOf } from "../../aggregation/continuous-spec.js";
import type { StoredAggregate } from "../../store/store.js";
import { formatTime } from "../../time.js";

/** A continuous aggregate on the wire: its definition, and its backfill's progress in seqs of the log. */
export function continuousAggregateOut(a: StoredAggregate): Record<string, unknown> {
  const spec = specOf(a);
  const b = a.backfill;
  return {
    name: a.name,
    topic: spec.topic,
    ...(spec.filter !== undefined && { filter: spec.filter }),
    ...(spec.groupBy !== undefined && { group_by: spec.groupBy }),
    metrics: spec.metrics,
    interval: spec.interval,
    publish: spec.publish === true,
    created_at: formatTime(a.createdAt),
    backfill: b && {
      state: b.state,
      done: b.cursor - b.startSeq,
      total: a.createdSeq - b.startSeq,
      from: b.from === null ? null : formatTime(b.from),
      to: b.to === null ? null : formatTime(b.to),
    },
  };
}

/** The buckets as those of `/events/aggregate`: time, group (its value; null when missing), metrics by name. */
export function continuousBucketsOut(buckets: readonly AggregateBucket[]): Array<Record<string, unknown>> {
  return buckets.map((b) => ({
    t: formatTime(b.t),
    ...(b.group !== undefined && { group: b.group === null ? null : (JSON.parse(b.group) as unknown) }),
    ...b.values,
  }));
}
