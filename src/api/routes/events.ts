import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { HubError } from "../../errors.js";
import type { Hub } from "../../hub.js";
import {
  eventFromCloudEventHeaders,
  eventsFromCloudEvents,
  eventsFromJson,
  isEnvelope,
  type IngestContext,
} from "../../ingest/normalize.js";
import { parseEventSearch, searchEvents } from "../../query/search-events.js";
import type { NewEvent } from "../../store/store.js";
import { envelopeJson } from "../../wire.js";
import { hasScope, isStreamRequest, requireScope, subscribeScopes, type RequestWithCredential } from "../auth.js";
import type { RequestWithRawBody } from "../build-app.js";
import { createStreamHandler } from "./streams.js";
import { deliveryDetailOut } from "./subscriptions.js";

type Query = Record<string, string | string[] | undefined>;

interface IngestRoute {
  /** Topic fixed by the path. */
  topic?: string;
  /** The body is the data itself (topic-scoped route). */
  bodyIsData?: boolean;
  /** The body must be an envelope (Postoffice's `/messages`). */
  envelopeRequired?: boolean;
}

/** Publishing (`POST BASE_PATH/events`, `/topics/:topic/events`, `/messages`) and search (`GET BASE_PATH/events`). */
export function registerEventRoutes(fastify: FastifyInstance, hub: Hub): void {
  const base = hub.config.basePath;

  const ingest = async (request: FastifyRequest, reply: FastifyReply, route: IngestRoute) => {
    const receivedAt = Date.now();
    const query = request.query as Query;
    const queryTopic = typeof query.topic === "string" ? query.topic : undefined;
    const ctx: IngestContext = {
      topic: route.topic ?? queryTopic,
      bodyIsData: route.bodyIsData,
      receivedAt,
      maxBatchEvents: hub.config.maxBatchEvents,
      rawBody: (request as RequestWithRawBody).rawBody,
    };
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const body = request.body;
    let events: NewEvent[];
    let batch = false;
    if (request.headers["ce-specversion"] !== undefined) {
      events = [eventFromCloudEventHeaders(request.headers, body, ctx)];
    } else if (contentType === "application/cloudevents+json" || contentType === "application/cloudevents-batch+json") {
      ({ events, batch } = eventsFromCloudEvents(body, ctx, contentType === "application/cloudevents-batch+json"));
    } else if (contentType === "text/plain") {
      throw new HubError("SB_REQUEST_UNSUPPORTED_MEDIA_TYPE", "send events as application/json (text/plain is accepted only in CloudEvents binary mode)");
    } else {
      if (route.envelopeRequired && !(Array.isArray(body) ? body.every(isEnvelope) : isEnvelope(body))) {
        throw new HubError("SB_EVENT_INVALID", "expected {topic, payload, attributes?} (or an array of them)");
      }
      ({ events, batch } = eventsFromJson(body, ctx));
    }
    requireScope(request, [...new Set(events.map((e) => `publish:${e.topic}`))]);
    const idempotencyKey = request.headers["idempotency-key"];
    const result = await hub.ingestor.publish(events, {
      idempotencyKey: Array.isArray(idempotencyKey) ? idempotencyKey[0] : idempotencyKey,
      publisher: (request as RequestWithCredential).credentialId,
    });
    if (result.replayed) reply.header("idempotent-replayed", "true");
    return reply.status(201).send(batch ? result.results : result.results[0]);
  };

  fastify.post(`${base}/events`, (request, reply) => ingest(request, reply, {}));
  fastify.post<{ Params: { topic: string } }>(`${base}/topics/:topic/events`, (request, reply) =>
    ingest(request, reply, { topic: request.params.topic, bodyIsData: true }),
  );
  fastify.post(`${base}/messages`, (request, reply) => ingest(request, reply, { envelopeRequired: true }));

  // Replies splice each event's stored data text in, rather than parse and serialise it again.
  const search = async (request: FastifyRequest, reply: FastifyReply) => {
    const selection = parseEventSearch(request.query as Query, { onError: hub.metrics.countFilterError });
    requireScope(request, subscribeScopes(selection.topicPatterns));
    const page = await searchEvents(hub.store, selection);
    return reply
      .type("application/json; charset=utf-8")
      .send(`{"data":[${page.events.map(envelopeJson).join(",")}],"next_cursor":${JSON.stringify(page.nextCursor)}}`);
  };
  if (base !== "") fastify.get(`${base}/events`, search);
  else {
    const stream = createStreamHandler(hub);
    // With an empty BASE_PATH, `/events` is both the search and the SSE stream: the Accept header decides.
    fastify.get("/events", async (request, reply) => {
      if (isStreamRequest(request, base)) {
        return stream(request, reply);
      }
      return search(request, reply);
    });
  }

  fastify.get<{ Params: { id: string } }>(`${base}/events/:id`, async (request, reply) => {
    const event = await hub.store.events.get(request.params.id);
    // An event outside the credential's subscribe scopes answers as if it did not exist: a 403 would confirm the id.
    if (!event || !hasScope(request, `subscribe:${event.topic}`)) {
      throw new HubError("SB_EVENT_NOT_FOUND", `no event with id ${JSON.stringify(request.params.id)}`);
    }
    // The envelope, then the event's deliveries with their attempts (deliveries are admin's: empty for others).
    const deliveries = hasScope(request, "admin") ? (await hub.subscriptions.deliveriesOfEvent(event.id)).map(deliveryDetailOut) : [];
    return reply.type("application/json; charset=utf-8").send(`${envelopeJson(event).slice(0, -1)},"deliveries":${JSON.stringify(deliveries)}}`);
  });
}
