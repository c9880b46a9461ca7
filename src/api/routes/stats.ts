import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { deliveryStats, eventStats } from "../../aggregation/stats.js";
import type { Store } from "../../store/store.js";
import { adminOnly, requireScope, subscribeScopes } from "../auth.js";
import { DeliveryStatsQuery, EventStatsQuery } from "../schemas/stats.js";
import { deliveryBucketOut, deliveryStatsFromWire, eventBucketOut, eventStatsFromWire } from "../wire/stats.js";

/** What {@link registerStatsRoutes} uses. */
export interface StatsRoutesOptions {
  store: Store;
  basePath: string;
  now?: () => number;
}

/**
 * `GET BASE_PATH/stats/events` (the scopes of an event search: subscribe on the topics asked for) and
 * `GET BASE_PATH/stats/deliveries` (admin, as deliveries are), both answered from the rollups.
 */
export function registerStatsRoutes(instance: FastifyInstance, { store, basePath, now = Date.now }: StatsRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  fastify.get(`${basePath}/stats/events`, { schema: { querystring: EventStatsQuery } }, async (request) => {
    const input = eventStatsFromWire(request.query);
    requireScope(request, subscribeScopes(input.topics ?? []));
    return { buckets: (await eventStats(store, input, now())).map(eventBucketOut) };
  });
  fastify.get(`${basePath}/stats/deliveries`, { onRequest: adminOnly, schema: { querystring: DeliveryStatsQuery } }, async (request) => ({
    buckets: (await deliveryStats(store, deliveryStatsFromWire(request.query), now())).map(deliveryBucketOut),
  }));
}
