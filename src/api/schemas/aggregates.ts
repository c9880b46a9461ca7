import { Type, type Static } from "typebox";
import { MAX_METRICS } from "../../aggregation/aggregate-spec.js";
import { bodyErrors, oneParam } from "./common.js";

const FIELDS = "name, topic, filter, group_by, metrics, interval, publish";

/** `POST BASE_PATH/aggregates`. */
export const AggregateCreateBody = Type.Object(
  {
    name: Type.String({ description: "1 to 64 lowercase letters, digits, '_' or '-'." }),
    topic: Type.String({ description: "A topic name or pattern (`orders.*`, `orders.**`)." }),
    filter: Type.Optional(Type.String({ description: "A CEL expression over the event, evaluated on each event at commit." })),
    group_by: Type.Optional(Type.String({ description: "data.<field> (or topic, type, source, subject): a bucket per value." })),
    metrics: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: MAX_METRICS })], {
      description: "count, sum:data.x, avg:data.x, min:data.x, max:data.x, as a list or comma-separated. Percentiles are refused.",
    }),
    interval: Type.String({ description: "Bucket width on the events' time: 1m, 5m, 1h or 1d." }),
    publish: Type.Optional(Type.Boolean({ description: "Publish each closed bucket as an event on `switchboard.aggregate.<name>`." })),
  },
  {
    $id: "AggregateCreate",
    title: "New continuous aggregate",
    additionalProperties: false,
    ...bodyErrors("SB_AGGREGATE_INVALID", `unknown field {name}; aggregates have ${FIELDS}`),
  },
);
export type AggregateCreateBody = Static<typeof AggregateCreateBody>;

/** `POST BASE_PATH/aggregates/:name/backfill`: an empty body backfills every stored event. */
export const AggregateBackfillBody = Type.Object(
  {
    from: Type.Optional(Type.String({ description: "Only events whose time is at or after this." })),
    to: Type.Optional(Type.String({ description: "Only events whose time is before this." })),
  },
  {
    $id: "AggregateBackfill",
    title: "Backfill",
    additionalProperties: false,
    ...bodyErrors("SB_AGGREGATE_INVALID", "unknown field {name}; a backfill has from, to"),
  },
);
export type AggregateBackfillBody = Static<typeof AggregateBackfillBody>;

export const AggregateNameParams = Type.Object({ name: Type.String({ description: "The aggregate's name." }) }, { $id: "AggregateNameParams" });

/** `GET BASE_PATH/aggregates/:name`. */
export const AggregateReadQuery = Type.Object(
  {
    from: Type.Optional(oneParam("Buckets starting at or after this (default: a day before `to`); aligned down on the interval.")),
    to: Type.Optional(oneParam("Buckets starting before this (default: now, its bucket included).")),
  },
  { $id: "AggregateReadQuery", title: "Aggregate range", additionalProperties: false, ...bodyErrors("SB_QUERY_INVALID") },
);
export type AggregateReadQuery = Static<typeof AggregateReadQuery>;
