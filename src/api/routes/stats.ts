import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { documented } from "../openapi/route-doc.js";
import { AggregateOut, DeliveryStatsOut, EventStatsOut } from "../schemas/responses.js";
import { aggregateEvents } from "../../aggregation/aggregate-events.js";
import { deliveryStats, eventStats } from "../../aggregation/stats.js";
import type { HubMetrics } from "../../metrics.js";
import { HubError } from "../../errors.js";
import type { Store } from "../../store/store.js";
import { adminOnly, requireScope, subscribeScopes } from "../auth.js";
import { AggregateQuery, DeliveryStatsQuery, EventStatsQuery } from "../schemas/stats.js";
import { aggregateFromWire, aggregateOut, deliveryStatsFromWire, deliveryStatsJson, eventStatsFromWire, eventStatsJson } from "../wire/stats.js";

/** What {@link registerStatsRoutes} uses. */
export interface StatsRoutesOptions {
  store: Store;
  metrics: HubMetrics;
  basePath: string;
  /** Whether commits write the rollups; false: the stats routes answer 409 `SB_ROLLUPS_OFF`. */
  rollups: boolean;
  now?: () => number;
}

/**
 * `GET BASE_PATH/stats/events` (the scopes of an event search: subscribe on the topics asked for) and
 * `GET BASE_PATH/stats/deliveries` (admin, as deliveries are), both answered from the rollups; and
 * `GET BASE_PATH/events/aggregate` (the scopes of an event search), which reads the events.
 */
export function registerStatsRoutes(instance: FastifyInstance, { store, metrics, basePath, rollups, now = Date.now }: StatsRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  // Refused rather than answered empty: an empty chart would say "no traffic", which is not what is known.
  const rollupsOn = async () => {
    if (!rollups) throw new HubError("SB_ROLLUPS_OFF", "this hub keeps no rollups (SWITCHBOARD_ROLLUPS=false), so it has no stats");
  };
  const eventsDoc = documented({
    summary: "Event counts per interval, from the rollups",
    replies: [{ status: 200, description: "The buckets.", schema: EventStatsOut }],
    errors: ["SB_QUERY_INVALID_TIME", "SB_ROLLUPS_OFF"],
  });
  fastify.get(`${basePath}/stats/events`, { onRequest: rollupsOn, schema: { querystring: EventStatsQuery }, ...eventsDoc }, async (request, reply) => {
    const input = eventStatsFromWire(request.query);
    requireScope(request, subscribeScopes(input.topics ?? []));
    // Written as text (1,440 buckets for a day of minutes): see eventStatsJson.
    return reply.type("application/json; charset=utf-8").send(eventStatsJson(await eventStats(store, input, now())));
  });
  const deliveriesDoc = documented({
    summary: "Delivery outcomes and latency per interval, from the rollups",
    replies: [{ status: 200, description: "The buckets.", schema: DeliveryStatsOut }],
    errors: ["SB_QUERY_INVALID_TIME", "SB_ROLLUPS_OFF"],
  });
  fastify.get(
    `${basePath}/stats/deliveries`,
    { onRequest: [adminOnly, rollupsOn], schema: { querystring: DeliveryStatsQuery }, ...deliveriesDoc },
    // Written as text (1,440 buckets for a day of minutes): see deliveryStatsJson.
    async (request, reply) =>
      reply.type("application/json; charset=utf-8").send(deliveryStatsJson(await deliveryStats(store, deliveryStatsFromWire(request.query), now()))),
  );
  const aggregateDoc = documented({
    summary: "Aggregate events: count, sum, avg, min, max and percentiles of data fields, per interval and group",
    replies: [{ status: 200, description: "The buckets.", schema: AggregateOut }],
    errors: ["SB_QUERY_INVALID_TIME", "SB_FILTER_INVALID", "SB_FILTER_TOO_COSTLY", "SB_AGGREGATE_TOO_COSTLY"],
  });
  fastify.get(`${basePath}/events/aggregate`, { schema: { querystring: AggregateQuery }, ...aggregateDoc }, async (request) => {
    const input = aggregateFromWire(request.query);
    requireScope(request, subscribeScopes(input.topics ?? []));
    return aggregateOut(await aggregateEvents(store, input, now(), { onError: metrics.countFilterError }));
  });
}
