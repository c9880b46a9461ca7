import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { Logger } from "pino";
import type { StreamHub, StreamSelection } from "../../delivery/sse/stream-hub.js";
import { HubError } from "../../errors.js";
import type { HubMetrics } from "../../metrics.js";
import { compileFilter } from "../../routing/filter.js";
import { compileTopicPattern, topicPatternProblem } from "../../routing/topic-pattern.js";
import { redactUrl, requireScope, subscribeScopes } from "../auth.js";
import { documented, type RouteDoc } from "../openapi/route-doc.js";
import { StreamQuery, TopicParams } from "../schemas/events.js";
import { topicValues as splitTopics } from "../wire/events.js";

type Query = Record<string, string | string[] | undefined>;

/** What the stream routes use. */
export interface StreamRoutesOptions {
  streams: StreamHub;
  metrics: HubMetrics;
  log: Logger;
  basePath: string;
}

/**
 * The SSE handler: validates the selection (400 before any stream starts), then hands the raw response to the
 * stream hub. `topic` (repeatable, comma-separated, patterns), `filter` (CEL), `envelope=true`, and resume from
 * `Last-Event-ID` or `?last_event_id=`.
 */
export function createStreamHandler(deps: Omit<StreamRoutesOptions, "basePath">, fixedTopic?: (request: FastifyRequest) => string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const query = request.query as Query;
    const topicValues = fixedTopic ? [fixedTopic(request)] : splitTopics(query.topic);
    if (topicValues.length > 50) throw new HubError("SB_QUERY_INVALID", "at most 50 topics per stream");
    const topics = topicValues.map((t) => {
      const problem = topicPatternProblem(t);
      if (problem) throw new HubError("SB_QUERY_INVALID", `topic: ${problem}`);
      return compileTopicPattern(t);
    });
    requireScope(request, subscribeScopes(topicValues));
    const filterSource = single(query.filter, "filter");
    const envelopeParam = single(query.envelope, "envelope");
    if (envelopeParam !== undefined && !["true", "false", "1", "0", ""].includes(envelopeParam)) {
      throw new HubError("SB_QUERY_INVALID", "envelope must be true or false");
    }
    const headerId = request.headers["last-event-id"];
    const lastEventId = (Array.isArray(headerId) ? headerId[0] : headerId) || single(query.last_event_id, "last_event_id") || undefined;
    if (lastEventId !== undefined && (lastEventId.length > 200 || /[\r\n\0]/.test(lastEventId))) {
      throw new HubError("SB_QUERY_INVALID", "Last-Event-ID is not an event id");
    }
    const selection: StreamSelection = {
      topics,
      filter: filterSource ? compileFilter(filterSource, { onError: deps.metrics.countFilterError }) : undefined,
      envelope: envelopeParam === "true" || envelopeParam === "1",
      lastEventId,
    };
    if (!deps.streams.hasRoom()) {
      reply.header("retry-after", "5");
      throw new HubError("SB_STREAM_LIMIT", `this node has ${deps.streams.size} open streams, its limit; retry later`);
    }

    reply.hijack();
    reply.raw.on("close", streamClosedLogger(deps.log, request));
    await deps.streams.open(reply.raw, selection);
  };
}

/**
 * The listener that logs a stream's end. It holds the few fields it logs, not the request: an open stream keeps its
 * listeners, and the request (with its reply and headers) is otherwise freed once the stream has started.
 */
function streamClosedLogger(log: Logger, request: FastifyRequest): () => void {
  const fields = { reqId: request.id, method: request.method, url: redactUrl(request.url) };
  const started = Date.now();
  return () => log.info({ ...fields, durationMs: Date.now() - started }, "stream closed");
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new HubError("SB_QUERY_INVALID", `${name} may be given once`);
    return value[0];
  }
  return value;
}

/** The streams' part of the OpenAPI document. */
export const STREAM_DOC: RouteDoc = {
  summary: "Stream events (SSE)",
  description: "Server-Sent Events: `id:` is the event id, `data:` the event's data (or its envelope with `envelope=true`). See docs/streams.md.",
  tag: "streams",
  replies: [{ status: 200, description: "A live stream, until the client leaves.", contentType: "text/event-stream", schema: Type.String() }],
  errors: ["SB_FILTER_INVALID", "SB_FILTER_TOO_COSTLY", "SB_STREAM_LIMIT", "SB_STREAMS_PER_CREDENTIAL"],
  headers: { "Last-Event-ID": "Resume after this event id." },
  stream: true,
};

/** `GET /events` and `GET BASE_PATH/topics/:topic/stream`. */
export function registerStreamRoutes(fastify: FastifyInstance, options: StreamRoutesOptions): void {
  if (options.basePath !== "") fastify.get("/events", { schema: { querystring: StreamQuery }, ...documented(STREAM_DOC) }, createStreamHandler(options));
  fastify.get(
    `${options.basePath}/topics/:topic/stream`,
    { schema: { params: TopicParams, querystring: StreamQuery }, ...documented({ ...STREAM_DOC, summary: "Stream one topic (SSE)" }) },
    createStreamHandler(options, (request) => (request.params as { topic: string }).topic),
  );
}
