import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { IncomingHttpHeaders } from "node:http";
import { Type } from "typebox";
import type { SubscriptionService } from "../../delivery/subscriptions.js";
import { HubError } from "../../errors.js";
import { captureRequestHeaders } from "../../ingest/captured-headers.js";
import type { Ingestor, PublishResult as IngestResult } from "../../ingest/ingestor.js";
import { eventFromCloudEventHeaders, eventsFromCloudEvents, eventsFromJson, isEnvelope, type IngestContext } from "../../ingest/normalize.js";
import type { HubMetrics } from "../../metrics.js";
import { parseEventSearch, searchEvents } from "../../query/search-events.js";
import type { NewEvent, Store } from "../../store/store.js";
import { publishParent } from "../../telemetry.js";
import { envelopeJson, eventRow } from "../../wire.js";
import { hasScope, isStreamRequest, requireScope, subscribeScopes, type RequestWithCredential } from "../auth.js";
import type { RequestWithRawBody } from "../build-app.js";
import { documented, type RouteDoc } from "../openapi/route-doc.js";
import { IdParams } from "../schemas/common.js";
import { EventSearchQuery, PublishBody, PublishQuery, TopicParams } from "../schemas/events.js";
import { EventDetail, EventPage, EventRows, PublishResult } from "../schemas/responses.js";
import { eventSearchFromWire } from "../wire/events.js";
import { deliveryDetailOut } from "../wire/subscriptions.js";
import { createStreamHandler, STREAM_DOC, type StreamRoutesOptions } from "./streams.js";

type Query = Record<string, string | string[] | undefined>;

/** What the publish route fixes about a request. */
export interface IngestRoute {
  /** Topic fixed by the path. */
  topic?: string;
  /** The body is the data itself (topic-scoped route). */
  bodyIsData?: boolean;
  /** The body must be an envelope (Postoffice's `/messages`). */
  envelopeRequired?: boolean;
}

/** One publish request, as {@link createPublisher}'s function takes it from fastify or the lean path. */
export interface PublishInput {
  headers: IncomingHttpHeaders;
  /** The parsed body. */
  body: unknown;
  /** The body's JSON text, kept so that data is stored exactly as posted. */
  rawBody?: string;
  /** The route, its topic being the path's or `?topic=`. */
  route: IngestRoute;
  /** Checks the credential's publish scopes; absent when auth is off (nothing to check). */
  requireScopes?: (scopes: string[]) => void;
  /** The credential's id (see {@link PublishOptions.publisher}). */
  publisher?: string;
}

/** The answer to a publish: the reply body (one result, or an array for a batch) and whether it repeated one. */
export interface PublishOutcome {
  reply: unknown;
  replayed: boolean;
}

/**
 * The publish routes' work between the parsed body and the 201: normalise (JSON, CloudEvents binary or structured),
 * check scopes, capture headers, publish. Shared by the fastify routes and the lean path (api/publish-fast-path.ts).
 * A publish settled at once (live-only topics) is answered without a promise: the lean path then replies in the same
 * call, with no microtask between the body and the reply.
 * @throws HubError for anything refused (synchronously, or as the promise's rejection).
 */
export function createPublisher(options: Pick<EventRoutesOptions, "ingestor" | "maxBatchEvents" | "captureHeaders">) {
  const { ingestor, maxBatchEvents } = options;
  const captureHeaders = (options.captureHeaders ?? []).map((n) => n.toLowerCase());
  return (input: PublishInput): PublishOutcome | Promise<PublishOutcome> => {
    const { headers, body, route } = input;
    const ctx: IngestContext = { topic: route.topic, bodyIsData: route.bodyIsData, receivedAt: Date.now(), maxBatchEvents, rawBody: input.rawBody };
    const contentType = mediaTypeOf(headers["content-type"]);
    let events: NewEvent[];
    let batch = false;
    if (headers["ce-specversion"] !== undefined) {
      events = [eventFromCloudEventHeaders(headers, body, ctx)];
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
    input.requireScopes?.([...new Set(events.map((e) => `publish:${e.topic}`))]);
    const captured = captureHeaders.length === 0 ? undefined : captureRequestHeaders(captureHeaders, headers);
    if (captured) for (const e of events) e.headers = captured;
    const idempotencyKey = headers["idempotency-key"];
    const result = ingestor.publishNow(events, {
      idempotencyKey: Array.isArray(idempotencyKey) ? idempotencyKey[0] : idempotencyKey,
      publisher: input.publisher,
      traceContext: publishParent(headers.traceparent),
      transport: "http",
    });
    return result instanceof Promise ? result.then((r) => outcomeOf(r, batch)) : outcomeOf(result, batch);
  };
}

/** The reply to a publish: one result, or the array of them for a batch. */
function outcomeOf(result: IngestResult, batch: boolean): PublishOutcome {
  return { reply: batch ? result.results : result.results[0], replayed: result.replayed };
}

/** The media type of a Content-Type header, lower-cased, without parameters (`application/json; charset=utf-8` → `application/json`). */
function mediaTypeOf(header: string | undefined): string {
  if (header === undefined) return "";
  // The common case, a plain lower-case type, needs no copy.
  if (header === "application/json") return header;
  return header.split(";")[0]!.trim().toLowerCase();
}

/** What {@link registerEventRoutes} uses; the streams' part serves `GET /events` when BASE_PATH is empty. */
export interface EventRoutesOptions extends StreamRoutesOptions {
  ingestor: Ingestor;
  store: Store;
  subscriptions: Pick<SubscriptionService, "deliveriesOfEvent">;
  metrics: HubMetrics;
  maxBatchEvents: number;
  /** Lower-case names of the publish request headers kept with each event (`captureHeaders`); none by default. */
  captureHeaders?: readonly string[];
}

/** Publishing (`POST BASE_PATH/events`, `/topics/:topic/events`, `/messages`) and search (`GET BASE_PATH/events`). */
export function registerEventRoutes(instance: FastifyInstance, options: EventRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { basePath: base } = options;
  // The publish schemas document the body and ?topic=; they are not checked here (see schemas/events.ts).
  const publish = { schema: { body: PublishBody, querystring: PublishQuery } };

  const publishOne = createPublisher(options);
  const ingest = async (request: FastifyRequest, reply: FastifyReply, route: IngestRoute) => {
    const query = request.query as Query;
    const result = await publishOne({
      headers: request.headers,
      body: request.body,
      rawBody: (request as RequestWithRawBody).rawBody,
      route: { ...route, topic: route.topic ?? (typeof query.topic === "string" ? query.topic : undefined) },
      requireScopes: (scopes) => requireScope(request, scopes),
      publisher: (request as RequestWithCredential).credentialId,
    });
    if (result.replayed) reply.header("idempotent-replayed", "true");
    return reply.status(201).send(result.reply);
  };

  fastify.post(`${base}/events`, { ...publish, ...publishDoc("Publish events") }, (request, reply) => ingest(request, reply, {}));
  fastify.post(
    `${base}/topics/:topic/events`,
    { schema: { ...publish.schema, params: TopicParams }, ...publishDoc("Publish to one topic", "The body is the data of one event.") },
    (request, reply) => ingest(request, reply, { topic: request.params.topic, bodyIsData: true }),
  );
  fastify.post(
    `${base}/messages`,
    { ...publish, ...publishDoc("Publish Postoffice messages", "`{topic, payload, attributes?}` or an array of them.") },
    (request, reply) => ingest(request, reply, { envelopeRequired: true }),
  );

  registerEventReads(fastify, options);
}

/** Publishing's part of the OpenAPI document. */
function publishDoc(summary: string, description?: string) {
  return documented({
    summary,
    description,
    replies: [
      {
        status: 201,
        description:
          "Stored (or a repeat): one result, or an array of them for a batch. An event of a live-only topic is sent to the open streams and not stored: its result has `seq: null` and `stored: false`.",
        schema: PUBLISH_REPLY,
        headers: { "Idempotent-Replayed": "`true` when the request repeated a client id or an Idempotency-Key: nothing new was stored." },
      },
    ],
    errors: [
      "SB_EVENT_INVALID",
      "SB_EVENT_BATCH_TOO_LARGE",
      "SB_EVENT_SCHEMA_MISMATCH",
      "SB_EVENT_ID_CONFLICT",
      "SB_IDEMPOTENCY_KEY_CONFLICT",
      "SB_TOPIC_INVALID",
      "SB_TOPIC_NOT_FOUND",
      "SB_STORE_FULL",
      "SB_REQUEST_HEADERS_TOO_LARGE",
      "SB_LIVE_EVENT_TOO_LARGE",
    ],
    headers: { "Idempotency-Key": "A repeat within the retention window stores nothing new and answers the first reply (`Idempotent-Replayed: true`)." },
    bodyTypes: ["application/cloudevents+json", "application/cloudevents-batch+json"],
  });
}

const PUBLISH_REPLY = Type.Union([PublishResult, Type.Array(PublishResult)]);

const SEARCH_DOC: RouteDoc = {
  summary: "Search events",
  description: "Any parameter not listed is equality on a top-level data field (`user_id=123`): numbers, true, false and null are typed.",
  replies: [
    {
      status: 200,
      description: "A page of events, oldest first unless `order=desc`; with `format=rows`, a bare array of flat rows.",
      schema: Type.Union([EventPage, EventRows]),
      headers: { "Next-Cursor": "With `format=rows`: the `cursor` of the next page; absent on the last." },
    },
  ],
  errors: ["SB_QUERY_INVALID_TIME", "SB_QUERY_INVALID_CURSOR", "SB_FILTER_INVALID", "SB_FILTER_TOO_COSTLY"],
};

/** `GET BASE_PATH/events` (the search) and `GET BASE_PATH/events/:id`. */
function registerEventReads(instance: FastifyInstance, options: EventRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { basePath: base, store, subscriptions, metrics } = options;
  // Replies splice each event's stored data text in, rather than parse and serialise it again.
  const search = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as EventSearchQuery;
    if (query.format !== undefined && query.format !== "rows" && query.format !== "page") {
      throw new HubError("SB_QUERY_INVALID", `format must be rows or page, got ${JSON.stringify(query.format)}`);
    }
    const selection = parseEventSearch(eventSearchFromWire(query), { onError: metrics.countFilterError });
    requireScope(request, subscribeScopes(selection.topicPatterns));
    const page = await searchEvents(store, selection);
    if (query.format === "rows") {
      // Simple Event Handler's reply: a bare array. The cursor, which an array has no room for, goes in a header.
      if (page.nextCursor !== null) reply.header("next-cursor", page.nextCursor);
      return reply.type("application/json; charset=utf-8").send(JSON.stringify(page.events.map(eventRow)));
    }
    return reply
      .type("application/json; charset=utf-8")
      .send(`{"data":[${page.events.map(envelopeJson).join(",")}],"next_cursor":${JSON.stringify(page.nextCursor)}}`);
  };
  const searchSchema = { schema: { querystring: EventSearchQuery }, ...documented(SEARCH_DOC) };
  if (base !== "") fastify.get(`${base}/events`, searchSchema, search);
  else {
    const stream = createStreamHandler(options);
    // With an empty BASE_PATH, `/events` is both the search and the SSE stream: the Accept header decides. Both read
    // single parameters but `topic`, so the search's schema serves the stream too.
    const both = documented({
      ...SEARCH_DOC,
      summary: "Search events, or stream them (Accept: text/event-stream)",
      replies: [...SEARCH_DOC.replies, ...STREAM_DOC.replies],
      errors: [...SEARCH_DOC.errors!, ...STREAM_DOC.errors!],
      headers: STREAM_DOC.headers,
      stream: true,
    });
    fastify.get("/events", { ...searchSchema, ...both }, async (request, reply) => {
      if (isStreamRequest(request, base)) {
        return stream(request, reply);
      }
      return search(request, reply);
    });
  }

  const getDoc = documented({
    summary: "One event, with its deliveries",
    description: "An event outside the credential's subscribe scopes answers 404, as one that does not exist. `deliveries` are listed for admin only.",
    replies: [{ status: 200, description: "The event.", schema: EventDetail }],
    errors: ["SB_EVENT_NOT_FOUND"],
  });
  fastify.get(`${base}/events/:id`, { schema: { params: IdParams }, ...getDoc }, async (request, reply) => {
    const event = await store.events.get(request.params.id);
    // An event outside the credential's subscribe scopes answers as if it did not exist: a 403 would confirm the id.
    if (!event || !hasScope(request, `subscribe:${event.topic}`)) {
      throw new HubError("SB_EVENT_NOT_FOUND", `no event with id ${JSON.stringify(request.params.id)}`);
    }
    // The envelope, then the event's deliveries with their attempts (deliveries are admin's: empty for others).
    const deliveries = hasScope(request, "admin") ? (await subscriptions.deliveriesOfEvent(event.id)).map(deliveryDetailOut) : [];
    return reply.type("application/json; charset=utf-8").send(`${envelopeJson(event).slice(0, -1)},"deliveries":${JSON.stringify(deliveries)}}`);
  });
}
