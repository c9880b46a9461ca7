import { Type, type Static } from "typebox";
import { bodyErrors, oneParam } from "./common.js";

const range = {
  from: Type.Optional(oneParam("Start of the range (default: a day before `to`); aligned down on the interval.")),
  to: Type.Optional(oneParam("End of the range (default: now); aligned up on the interval.")),
  interval: Type.Optional(oneParam("Bucket width: 1m, 5m, 1h (default) or 1d.")),
};

/** `GET BASE_PATH/stats/events`. */
export const EventStatsQuery = Type.Object(
  {
    topic: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String())], { description: "Topic names or patterns, repeated or comma-separated (at most 50)." }),
    ),
    type: Type.Optional(oneParam("Only events of this type (empty: events without a type).")),
    group_by: Type.Optional(oneParam("topic or type: a bucket per time and topic (or type).")),
    ...range,
  },
  { $id: "EventStatsQuery", title: "Event stats", additionalProperties: false, ...bodyErrors("SB_QUERY_INVALID") },
);
export type EventStatsQuery = Static<typeof EventStatsQuery>;

/** `GET BASE_PATH/stats/deliveries`. */
export const DeliveryStatsQuery = Type.Object(
  { subscription: Type.Optional(oneParam("Only this subscription's attempts (default: all).")), ...range },
  { $id: "DeliveryStatsQuery", title: "Delivery stats", additionalProperties: false, ...bodyErrors("SB_QUERY_INVALID") },
);
export type DeliveryStatsQuery = Static<typeof DeliveryStatsQuery>;

/** `GET BASE_PATH/events/aggregate`. */
export const AggregateQuery = Type.Object(
  {
    topic: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String())], { description: "Topic names or patterns, repeated or comma-separated (at most 50)." }),
    ),
    type: Type.Optional(oneParam("Only events of this type.")),
    from: Type.Optional(oneParam("Events whose time is at or after this (default: a day before `to`).")),
    to: Type.Optional(oneParam("Events whose time is before this (default: now).")),
    filter: Type.Optional(oneParam("A CEL expression over the event: aggregated in the hub, within its budgets.")),
    group_by: Type.Optional(oneParam("data.<field> (or topic, type, source, subject): a bucket per value.")),
    interval: Type.Optional(oneParam("1m, 5m, 1h or 1d on the events' time; none: one bucket for the range.")),
    metrics: Type.Optional(oneParam("Comma-separated: count, sum:data.x, avg:data.x, min:data.x, max:data.x, p1–p99:data.x (default count).")),
  },
  { $id: "AggregateQuery", title: "Event aggregation", additionalProperties: false, ...bodyErrors("SB_QUERY_INVALID") },
);
export type AggregateQuery = Static<typeof AggregateQuery>;
