import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { aggregateEvents } from "../../aggregation/aggregate-events.js";
import { deliveryStats, eventStats } from "../../aggregation/stats.js";
import type { HubMetrics } from "../../metrics.js";
import type { Store } from "../../store/store.js";
import { adminOnly, requireScope, subscribeScopes } from "../auth.js";
import { AggregateQuery, DeliveryStatsQuery, EventStatsQuery } from "../schemas/stats.js";
import { aggregateFromWire, aggregateOut, deliveryBucketOut, deliveryStatsFromWire, eventBucketOut, eventStatsFromWire } from "../wire/stats.js";

/** What {@link registerStatsRoutes} uses. */
export interface StatsRoutesOptions {
  store: Store;
  metrics: HubMetrics;
  basePath: string;
  now?: () => number;
}

/**
 * `GET BASE_PATH/stats/events` (the scopes of an event search: subscribe on the topics asked for) and
 * `GET BASE_PATH/stats/deliveries` (admin, as deliveries are), both answered from the rollups; and
 * `GET BASE_PATH/events/aggregate` (the scopes of an event search), which reads the events.
 */
export function registerStatsRoutes(instance: FastifyInstance, { store, metrics, basePath, now = Date.now }: StatsRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  fastify.get(`${basePath}/stats/events`, { schema: { querystring: EventStatsQuery } }, async (request) => {
    const input = eventStatsFromWire(request.query);
    requireScope(request, subscribeScopes(input.topics ?? []));
    return { buckets: (await eventStats(store, input, now())).map(eventBucketOut) };
  });
  fastify.get(`${basePath}/stats/deliveries`, { onRequest: adminOnly, schema: { querystring: DeliveryStatsQuery } }, async (request) => ({
    buckets: (await deliveryStats(store, deliveryStatsFromWire(request.query), now())).map(deliveryBucketOut),
  }));
  fastify.get(`${basePath}/events/aggregate`, { schema: { querystring: AggregateQuery } }, async (request) => {
    const input = aggregateFromWire(request.query);
    requireScope(request, subscribeScopes(input.topics ?? []));
    return aggregateOut(await aggregateEvents(store, input, now(), { onError: metrics.countFilterError }));
  });
}
