import {
  maskHeaders,
  type DeliveryDetail,
  type DeliverySearch,
  type PublisherInput,
  type SubscriptionFields,
  type SubscriptionInput,
  type SubscriptionStart,
  type TimeRange,
} from "../../delivery/subscriptions.js";
import { parseRetrySchedule } from "../../delivery/webhooks/retry-policy.js";
import { parseHeaders } from "../../delivery/webhooks/subscription-headers.js";
import { HubError } from "../../errors.js";
import type { Attempt, Delivery, DeliveryStatus, Subscription } from "../../store/store.js";
import { formatTime, parseTime } from "../../time.js";
import type { DeliverySearchQuery, PublisherCreateBody, SubscriptionCreateBody, SubscriptionUpdateBody, TimeRangeBody } from "../schemas/subscriptions.js";
import { destinationKindOf, destinationKinds, maskDestinationUrl } from "../../delivery/destinations/index.js";
import { handlerNameOf } from "../../delivery/handlers/handler-options.js";
import type { TestSendResult } from "../../delivery/test-send.js";

/**
 * The wire (snake_case JSON, as the schemas of `schemas/subscriptions.ts` let it through) to and from the delivery
 * domain's types. The schemas have checked shapes and ranges; here are the checks whose messages quote the value.
 */

const STATUSES = new Set<DeliveryStatus>(["pending", "delivered", "retrying", "dead"]);

/** `POST /subscriptions` body → {@link SubscriptionInput}. */
export function subscriptionInputFromWire(body: SubscriptionCreateBody): SubscriptionInput {
  return { ...subscriptionFieldsFromWire(body), topic: body.topic, url: body.url, start: startFromWire(body.start) };
}

/** `PATCH`/`PUT /subscriptions/:id` body → the fields to change. */
export function subscriptionChangesFromWire(body: SubscriptionUpdateBody): SubscriptionFields {
  return subscriptionFieldsFromWire(body);
}

/**
 * Postoffice's `POST /publishers` body → {@link PublisherInput}. `type` is a destination kind (`http`, `nats`, `amqp`,
 * `mqtt`, `redis`) and `target` a url of that kind: `type: "nats"` takes `nats://` or `nats+tls://`.
 */
export function publisherInputFromWire(body: PublisherCreateBody): PublisherInput {
  const kinds = destinationKinds();
  const kind = kinds.find((k) => k.kind === body.type);
  if (!kind)
    throw invalid(`type ${JSON.stringify(body.type)} is not supported; supported publisher types: ${kinds.map((k) => JSON.stringify(k.kind)).join(", ")}`);
  // A target without a scheme is left to the url validation, which says what is wrong with it.
  const scheme = typeof body.target === "string" ? /^([a-z][a-z0-9+.-]*):/i.exec(body.target)?.[1]?.toLowerCase() : undefined;
  if (scheme !== undefined && !kind.schemes.includes(scheme)) {
    throw invalid(
      `target of a type ${JSON.stringify(kind.kind)} publisher needs a url with scheme ${kind.schemes.join(" or ")}, got ${JSON.stringify(scheme.slice(0, 20))}`,
    );
  }
  return { topic: body.topic, target: body.target, active: body.active, fromNow: body.from_now };
}

/** `{from?, to?}` of retry and replay → a {@link TimeRange}. */
export function timeRangeFromWire(body: TimeRangeBody): TimeRange {
  return {
    fromTime: body.from === undefined ? undefined : timeParam("from", body.from),
    toTime: body.to === undefined ? undefined : timeParam("to", body.to),
  };
}

/** `GET /deliveries` query → a {@link DeliverySearch}. */
export function deliverySearchFromWire(query: DeliverySearchQuery): DeliverySearch {
  const limit = query.limit === undefined ? undefined : Number(query.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
    throw new HubError("SB_QUERY_INVALID", "limit must be a whole number from 1 to 1000");
  }
  if (query.status !== undefined && !STATUSES.has(query.status as DeliveryStatus)) {
    throw new HubError("SB_QUERY_INVALID", `status must be one of ${[...STATUSES].join(", ")}`);
  }
  return {
    subscriptionId: query.subscription,
    eventId: query.event,
    status: query.status as DeliveryStatus | undefined,
    fromTime: query.from === undefined ? undefined : timeParam("from", query.from),
    toTime: query.to === undefined ? undefined : timeParam("to", query.to),
    cursor: query.cursor,
    limit,
  };
}

/**
 * A subscription on the wire. The secret, and the values of credential-like headers in clear, only where asked for
 * (the creation reply); elsewhere no secret and masked header values (`GET …/secret` and `GET …/headers` read them).
 */
export function subscriptionOut(s: Subscription, withSecret = false) {
  const kind = destinationKindOf(s.url);
  return {
    id: s.id,
    kind,
    // A handler's durable name and its priority; read-only here (the application's hub.handle sets them).
    ...(kind === "function" ? { name: handlerNameOf(s.url), priority: s.priority } : {}),
    topic: s.topic,
    url: maskDestinationUrl(s.url),
    // As written (switch's syntax, say); filter_cel is what runs.
    filter: s.filterSource ?? s.filter,
    filter_syntax: s.filterSource ? (s.filterSyntax ?? "cel") : "cel",
    filter_cel: s.filter,
    headers: withSecret ? s.headers : maskHeaders(s.headers),
    ...(withSecret ? { secret: s.secret } : {}),
    active: s.active,
    disabled_reason: s.disabledReason,
    ordering: s.ordering,
    retry: { schedule: s.retrySchedule },
    timeout_ms: s.timeoutMs,
    max_in_flight: s.maxInFlight,
    rate_limit: s.rateLimit,
    body: s.body,
    failing_since: s.failingSince === null ? null : formatTime(s.failingSince),
    created_at: formatTime(s.createdAt),
    updated_at: formatTime(s.updatedAt),
  };
}

/** The reply of `POST …/subscriptions/:id/test`. */
export function testSendOut({ eventId, deliveryId, outcome }: TestSendResult) {
  return {
    event_id: eventId,
    delivery_id: deliveryId,
    ok: outcome.ok,
    status: outcome.status,
    latency_ms: outcome.latencyMs,
    response_excerpt: outcome.responseExcerpt,
    error: outcome.error,
  };
}

/** A delivery on the wire, with its attempts when given. */
export function deliveryOut(d: Delivery, attempts?: Attempt[]) {
  const open = d.status === "pending" || d.status === "retrying";
  return {
    id: d.id,
    subscription_id: d.subscriptionId,
    event_id: d.eventId,
    event_seq: d.eventSeq,
    status: d.status,
    attempt_count: d.attempts,
    next_attempt_at: open ? formatTime(d.nextAttemptAt) : null,
    last_status: d.lastStatus,
    last_error: d.lastError,
    created_at: formatTime(d.createdAt),
    updated_at: formatTime(d.updatedAt),
    delivered_at: d.deliveredAt === null ? null : formatTime(d.deliveredAt),
    ...(attempts
      ? {
          attempts: attempts.map((a) => ({
            attempted_at: formatTime(a.attemptedAt),
            status_code: a.statusCode,
            latency_ms: Math.round(a.latencyMs * 100) / 100,
            response_excerpt: a.responseExcerpt,
            error: a.error,
          })),
        }
      : {}),
  };
}

/** A delivery with its attempts, on the wire. */
export function deliveryDetailOut(d: DeliveryDetail) {
  return deliveryOut(d.delivery, d.attempts);
}

function subscriptionFieldsFromWire(body: SubscriptionUpdateBody): SubscriptionFields {
  const f: SubscriptionFields = {};
  if (body.topic !== undefined) f.topic = body.topic;
  if (body.url !== undefined) f.url = body.url;
  if (body.filter !== undefined) f.filter = body.filter;
  if (body.filter_syntax !== undefined) f.filterSyntax = body.filter_syntax;
  if (body.headers !== undefined) f.headers = parseHeaders(body.headers);
  if (body.secret !== undefined) f.secret = body.secret;
  if (body.active !== undefined) f.active = body.active;
  if (body.ordering !== undefined) f.ordering = body.ordering;
  if (body.retry !== undefined) f.retrySchedule = parseRetrySchedule(body.retry);
  if (body.timeout_ms !== undefined) f.timeoutMs = body.timeout_ms;
  if (body.max_in_flight !== undefined) f.maxInFlight = body.max_in_flight;
  if (body.rate_limit !== undefined) f.rateLimit = body.rate_limit;
  if (body.body !== undefined) f.body = body.body;
  return f;
}

function startFromWire(start: unknown): SubscriptionStart | undefined {
  if (start === undefined || start === "now" || start === "beginning") return start;
  const t = typeof start === "string" || typeof start === "number" ? parseTime(start) : undefined;
  if (t === undefined) throw invalid(`start must be "now", "beginning" or a time, got ${JSON.stringify(start)}`);
  return t;
}

function timeParam(name: string, value: unknown): number {
  const t = typeof value === "string" || typeof value === "number" ? parseTime(value) : undefined;
  if (t === undefined) throw new HubError("SB_QUERY_INVALID_TIME", `invalid ${name}: unrecognized time format: ${JSON.stringify(value)}`);
  return t;
}

function invalid(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}
