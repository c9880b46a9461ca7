import type { FastifyInstance } from "fastify";
import { maskDestinationUrl } from "../../delivery/destinations/index.js";
import { maskHeaders, type DeliveryDetail } from "../../delivery/subscriptions.js";
import type { Hub } from "../../hub.js";
import { adminOnly } from "../auth.js";
import type { Attempt, Delivery, Subscription } from "../../store/store.js";
import { formatTime } from "../../time.js";

/**
 * A subscription on the wire. The secret, and the values of credential-like headers in clear, only where asked for
 * (the creation reply); elsewhere no secret and masked header values (`GET …/secret` and `GET …/headers` read them).
 */
export function subscriptionOut(s: Subscription, withSecret = false) {
  return {
    id: s.id,
    topic: s.topic,
    url: maskDestinationUrl(s.url),
    filter: s.filter,
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

export function deliveryDetailOut(d: DeliveryDetail) {
  return deliveryOut(d.delivery, d.attempts);
}

/** Subscriptions, Postoffice publishers and deliveries under `BASE_PATH`. */
export function registerSubscriptionRoutes(fastify: FastifyInstance, hub: Hub): void {
  const base = hub.config.basePath;
  const subs = hub.subscriptions;
  type ById = { Params: { id: string } };
  const admin = { onRequest: adminOnly };

  fastify.post(`${base}/subscriptions`, admin, async (request, reply) => reply.status(201).send(subscriptionOut(await subs.create(request.body), true)));
  fastify.get(`${base}/subscriptions`, admin, async () => ({ data: (await subs.list()).map((s) => subscriptionOut(s)) }));
  fastify.get<ById>(`${base}/subscriptions/:id`, admin, async (request) => subscriptionOut(await subs.get(request.params.id)));
  fastify.get<ById>(`${base}/subscriptions/:id/secret`, admin, async (request) => ({ secret: (await subs.get(request.params.id)).secret }));
  fastify.get<ById>(`${base}/subscriptions/:id/headers`, admin, async (request) => ({ headers: (await subs.get(request.params.id)).headers }));
  const update = async (request: { params: { id: string }; body: unknown }) => subscriptionOut(await subs.update(request.params.id, request.body ?? {}));
  fastify.patch<ById>(`${base}/subscriptions/:id`, admin, update);
  fastify.put<ById>(`${base}/subscriptions/:id`, admin, update);
  fastify.delete<ById>(`${base}/subscriptions/:id`, admin, async (request, reply) => {
    await subs.delete(request.params.id);
    return reply.status(204).send();
  });
  fastify.post<ById>(`${base}/subscriptions/:id/pause`, admin, async (request) => subscriptionOut(await subs.pause(request.params.id)));
  fastify.post<ById>(`${base}/subscriptions/:id/resume`, admin, async (request) => subscriptionOut(await subs.resume(request.params.id)));
  fastify.post<ById>(`${base}/subscriptions/:id/retry`, admin, async (request, reply) => reply.status(202).send(await subs.retryDead(request.params.id, request.body)));
  fastify.post<ById>(`${base}/subscriptions/:id/replay`, admin, async (request, reply) => reply.status(202).send(await subs.replay(request.params.id, request.body)));

  fastify.post(`${base}/publishers`, admin, async (request, reply) => reply.status(201).send(subscriptionOut(await subs.createPublisher(request.body), true)));

  fastify.get(`${base}/deliveries`, admin, async (request) => {
    const page = await subs.searchDeliveries(request.query as Record<string, string | undefined>);
    return { data: page.deliveries.map((d) => deliveryOut(d)), next_cursor: page.nextCursor };
  });
  fastify.get<ById>(`${base}/deliveries/:id`, admin, async (request) => deliveryDetailOut(await subs.getDelivery(request.params.id)));
  fastify.post<ById>(`${base}/deliveries/:id/retry`, admin, async (request, reply) => reply.status(202).send(deliveryOut(await subs.retryDelivery(request.params.id))));
}
