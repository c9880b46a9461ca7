import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { Destination } from "../../delivery/destination.js";
import type { SubscriptionService } from "../../delivery/subscriptions.js";
import { sendTestEvent } from "../../delivery/test-send.js";
import { formatTime } from "../../time.js";
import { adminOnly } from "../auth.js";
import { documented, type RouteDoc } from "../openapi/route-doc.js";
import { emptyBodyAsObject } from "../schemas/common.js";
import {
  DeliveryOut,
  DeliveryPage,
  ReplayResult,
  RetryResult,
  SubscriptionHeaders,
  SubscriptionList,
  SubscriptionOut,
  SubscriptionSecret,
  RotatedSecret,
  TestSendOut,
} from "../schemas/responses.js";
import {
  DeliverySearchQuery,
  IdParams,
  PublisherCreateBody,
  RotateSecretBody,
  SubscriptionCreateBody,
  SubscriptionUpdateBody,
  TimeRangeBody,
} from "../schemas/subscriptions.js";
import {
  deliveryDetailOut,
  deliveryOut,
  deliverySearchFromWire,
  publisherInputFromWire,
  subscriptionChangesFromWire,
  subscriptionInputFromWire,
  subscriptionOut,
  testSendOut,
  timeRangeFromWire,
} from "../wire/subscriptions.js";

/** What {@link registerSubscriptionRoutes} uses. */
export interface SubscriptionRoutesOptions {
  subscriptions: SubscriptionService;
  /** Where `POST …/:id/test` sends its event (the hub's destination router). */
  destination: Destination;
  now: () => number;
  basePath: string;
}

const SUB_NOT_FOUND = ["SB_SUBSCRIPTION_NOT_FOUND"] as const;
/** What saving a subscription's fields can refuse beyond its schema. */
const SUB_CHECKS = ["SB_WEBHOOK_TARGET_FORBIDDEN", "SB_FILTER_INVALID", "SB_FILTER_TOO_COSTLY", "SB_TOPIC_LIVE_ONLY"] as const;
/** A handler's subscription (kind `function`) belongs to the code that registers it: these routes refuse it. */
const SUB_WRITABLE = [...SUB_NOT_FOUND, "SB_SUBSCRIPTION_READ_ONLY"] as const;
const subReply = (status: number, description: string) => [{ status, description, schema: SubscriptionOut }];
const changeDoc = (summary: string): RouteDoc => ({
  summary,
  replies: subReply(200, "The subscription as changed."),
  errors: [...SUB_WRITABLE, ...SUB_CHECKS],
  bodyOptional: true,
});
const rangeDoc = (summary: string, description: string, schema: RouteDoc["replies"][number]["schema"]): RouteDoc => ({
  summary,
  description,
  replies: [{ status: 202, description: "Scheduled.", schema }],
  errors: [...SUB_NOT_FOUND, "SB_QUERY_INVALID_TIME"],
  bodyOptional: true,
});

/** The OpenAPI part of each route (the key is the route's method and path under BASE_PATH). */
const DOCS = {
  create: {
    summary: "Create a webhook subscription",
    replies: subReply(201, "Created; `secret` is shown in this reply and by `GET …/secret`."),
    errors: [...SUB_CHECKS, "SB_SUBSCRIPTION_EXISTS", "SB_SUBSCRIPTION_LIMIT"],
  },
  list: { summary: "List subscriptions", replies: [{ status: 200, description: "Every subscription.", schema: SubscriptionList }] },
  get: { summary: "One subscription", replies: subReply(200, "The subscription (header values masked, no secret)."), errors: SUB_NOT_FOUND },
  secret: {
    summary: "A subscription's signing secret",
    replies: [{ status: 200, description: "The secret.", schema: SubscriptionSecret }],
    errors: SUB_NOT_FOUND,
  },
  headers: {
    summary: "A subscription's extra headers, in clear",
    replies: [{ status: 200, description: "The headers.", schema: SubscriptionHeaders }],
    errors: SUB_NOT_FOUND,
  },
  patch: changeDoc("Change a subscription"),
  put: changeDoc("Change a subscription (as PATCH)"),
  delete: { summary: "Delete a subscription", replies: [{ status: 204, description: "Deleted, with its pending deliveries." }], errors: SUB_WRITABLE },
  pause: { summary: "Pause deliveries", replies: subReply(200, "The subscription, inactive."), errors: SUB_WRITABLE },
  resume: { summary: "Resume deliveries", replies: subReply(200, "The subscription, active."), errors: SUB_WRITABLE },
  retry: rangeDoc("Retry dead deliveries", "The dead deliveries created in `[from, to)` are scheduled again.", RetryResult),
  replay: rangeDoc("Replay events", "The topic's events stored in `[from, to)` are delivered again.", ReplayResult),
  publisher: {
    summary: "Create a Postoffice publisher",
    tag: "subscriptions",
    replies: subReply(201, "The subscription created."),
    errors: [...SUB_CHECKS, "SB_SUBSCRIPTION_EXISTS", "SB_SUBSCRIPTION_LIMIT"],
  },
  deliveries: {
    summary: "Search deliveries",
    replies: [{ status: 200, description: "A page of deliveries, newest first.", schema: DeliveryPage }],
    errors: ["SB_QUERY_INVALID_TIME", "SB_QUERY_INVALID_CURSOR"],
  },
  delivery: {
    summary: "One delivery, with its attempts",
    replies: [{ status: 200, description: "The delivery.", schema: DeliveryOut }],
    errors: ["SB_DELIVERY_NOT_FOUND"],
  },
  redeliver: {
    summary: "Retry one delivery now",
    replies: [{ status: 202, description: "Scheduled.", schema: DeliveryOut }],
    errors: ["SB_DELIVERY_NOT_FOUND", "SB_DELIVERY_IN_PROGRESS", "SB_SUBSCRIPTION_NOT_FOUND"],
  },
  rotate: {
    summary: "Rotate the signing secret",
    description:
      "A new secret signs from now on; the previous one signs too for `grace_s` (default a day), so each attempt meanwhile carries both signatures in `webhook-signature` and receivers can switch at their pace.",
    replies: [{ status: 200, description: "The new secret, and until when the previous one still signs.", schema: RotatedSecret }],
    errors: SUB_WRITABLE,
    bodyOptional: true,
  },
  test: {
    summary: "Send a test event now",
    description:
      "Sends one `switchboard.test` event to the destination as a real attempt would be sent (body, headers, signature), and answers what came of it. Nothing is stored and the subscription's health is untouched.",
    replies: [{ status: 200, description: "The attempt's outcome (`ok` false when the destination refused or did not answer).", schema: TestSendOut }],
    errors: SUB_WRITABLE,
  },
} satisfies Record<string, RouteDoc>;

/** Subscriptions, Postoffice publishers and deliveries under `BASE_PATH` (admin). */
export function registerSubscriptionRoutes(instance: FastifyInstance, options: SubscriptionRoutesOptions): void {
  const { subscriptions: subs, basePath: base, destination, now } = options;
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const admin = { onRequest: adminOnly };
  const byId = { ...admin, schema: { params: IdParams } };
  const optionalBody = { preValidation: emptyBodyAsObject };

  fastify.post(`${base}/subscriptions`, { ...admin, schema: { body: SubscriptionCreateBody }, ...documented(DOCS.create) }, async (request, reply) =>
    reply.status(201).send(subscriptionOut(await subs.create(subscriptionInputFromWire(request.body)), true)),
  );
  fastify.get(`${base}/subscriptions`, { ...admin, ...documented(DOCS.list) }, async () => ({ data: (await subs.list()).map((s) => subscriptionOut(s)) }));
  fastify.get(`${base}/subscriptions/:id`, { ...byId, ...documented(DOCS.get) }, async (request) => subscriptionOut(await subs.get(request.params.id)));
  fastify.get(`${base}/subscriptions/:id/secret`, { ...byId, ...documented(DOCS.secret) }, async (request) => ({
    secret: (await subs.get(request.params.id)).secret,
  }));
  fastify.get(`${base}/subscriptions/:id/headers`, { ...byId, ...documented(DOCS.headers) }, async (request) => ({
    headers: (await subs.get(request.params.id)).headers,
  }));
  const update = { ...admin, ...optionalBody, schema: { params: IdParams, body: SubscriptionUpdateBody } };
  fastify.patch(`${base}/subscriptions/:id`, { ...update, ...documented(DOCS.patch) }, async (request) =>
    subscriptionOut(await subs.update(request.params.id, subscriptionChangesFromWire(request.body))),
  );
  fastify.put(`${base}/subscriptions/:id`, { ...update, ...documented(DOCS.put) }, async (request) =>
    subscriptionOut(await subs.update(request.params.id, subscriptionChangesFromWire(request.body))),
  );
  fastify.delete(`${base}/subscriptions/:id`, { ...byId, ...documented(DOCS.delete) }, async (request, reply) => {
    await subs.delete(request.params.id);
    return reply.status(204).send();
  });
  const rotate = { ...admin, ...optionalBody, schema: { params: IdParams, body: RotateSecretBody } };
  fastify.post(`${base}/subscriptions/:id/secret/rotate`, { ...rotate, ...documented(DOCS.rotate) }, async (request) => {
    const grace = request.body.grace_s;
    const sub = await subs.rotateSecret(request.params.id, grace === undefined ? undefined : grace * 1000);
    return { secret: sub.secret, previous_secret_expires_at: sub.previousSecretUntil == null ? null : formatTime(sub.previousSecretUntil) };
  });
  fastify.post(`${base}/subscriptions/:id/test`, { ...byId, ...documented(DOCS.test) }, async (request) =>
    testSendOut(await sendTestEvent(destination, await subs.get(request.params.id), now())),
  );
  fastify.post(`${base}/subscriptions/:id/pause`, { ...byId, ...documented(DOCS.pause) }, async (request) =>
    subscriptionOut(await subs.pause(request.params.id)),
  );
  fastify.post(`${base}/subscriptions/:id/resume`, { ...byId, ...documented(DOCS.resume) }, async (request) =>
    subscriptionOut(await subs.resume(request.params.id)),
  );
  const range = { ...admin, ...optionalBody, schema: { params: IdParams, body: TimeRangeBody } };
  fastify.post(`${base}/subscriptions/:id/retry`, { ...range, ...documented(DOCS.retry) }, async (request, reply) =>
    reply.status(202).send(await subs.retryDead(request.params.id, timeRangeFromWire(request.body))),
  );
  fastify.post(`${base}/subscriptions/:id/replay`, { ...range, ...documented(DOCS.replay) }, async (request, reply) =>
    reply.status(202).send(await subs.replay(request.params.id, timeRangeFromWire(request.body))),
  );

  fastify.post(`${base}/publishers`, { ...admin, schema: { body: PublisherCreateBody }, ...documented(DOCS.publisher) }, async (request, reply) =>
    reply.status(201).send(subscriptionOut(await subs.createPublisher(publisherInputFromWire(request.body)), true)),
  );

  fastify.get(`${base}/deliveries`, { ...admin, schema: { querystring: DeliverySearchQuery }, ...documented(DOCS.deliveries) }, async (request) => {
    const page = await subs.searchDeliveries(deliverySearchFromWire(request.query));
    return { data: page.deliveries.map((d) => deliveryOut(d)), next_cursor: page.nextCursor };
  });
  fastify.get(`${base}/deliveries/:id`, { ...byId, ...documented(DOCS.delivery) }, async (request) =>
    deliveryDetailOut(await subs.getDelivery(request.params.id)),
  );
  fastify.post(`${base}/deliveries/:id/retry`, { ...byId, ...documented(DOCS.redeliver) }, async (request, reply) =>
    reply.status(202).send(deliveryOut(await subs.retryDelivery(request.params.id))),
  );
}
