import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import { documented } from "../openapi/route-doc.js";
import { AggregateOut, DeliveryStatsOut, EventStatsOut } from "../schemas/responses.js";
import { aggregateEvents } from "../../aggregation/aggregate-events.js";
import { deliveryStats, eventStats } from "../../aggregation/stats.js";
import type { HubMetrics } from "../../metrics.js";
import { HubError } from "../../errors.js";
import type { Store } from "../../store/store.js";
import { adminOnly, requireScope, subscribeScopes } from "../auth.js";
import { AggregateQuery, DeliveryStatsQuery, EventStatsQuery } from "../schemas/stats.js";
import type { JsonBytes } from "../wire/json-bytes.js";
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
    // Written as JSON bytes (1,440 buckets for a day of minutes): see eventStatsJson.
    return sendJson(reply, eventStatsJson(await eventStats(store, input, now())));
  });
  const deliveriesDoc = documented({
    summary: "Delivery outcomes and latency per interval, from the rollups",
    replies: [{ status: 200, description: "The buckets.", schema: DeliveryStatsOut }],
    errors: ["SB_QUERY_INVALID_TIME", "SB_ROLLUPS_OFF"],
  });
  fastify.get(
    `${basePath}/stats/deliveries`,
    { onRequest: [adminOnly, rollupsOn], schema: { querystring: DeliveryStatsQuery }, ...deliveriesDoc },
    // Written as JSON bytes (1,440 buckets for a day of minutes, about 290 KB): see deliveryStatsJson.
    async (request, reply) => sendJson(reply, deliveryStatsJson(await deliveryStats(store, deliveryStatsFromWire(request.query), now()))),
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

/**
 * Sends JSON written in pieces: one as it is; several as a stream of them with their total as Content-Length, so the
 * reply is framed as before (not chunked) and no layer joins them into one large Buffer or string (see
 * {@link JsonBytes}). The stream pushes every piece at its first read: with `Readable.from`, pieces stayed reachable
 * past young-generation collections and piled up until a full one (30 MB of them, each new piece a fresh page).
 */
function sendJson(reply: FastifyReply, json: JsonBytes): FastifyReply {
  reply.type("application/json; charset=utf-8");
  if (json.chunks.length === 1) return reply.send(json.chunks[0]);
  const { chunks } = json;
  const body = new Readable({
    read() {
      for (const chunk of chunks) this.push(chunk);
      this.push(null);
    },
  });
  return reply.header("content-length", String(json.byteLength)).send(body);
}
