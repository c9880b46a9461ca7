import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { SubscriptionService } from "../../delivery/subscriptions.js";
import { adminOnly } from "../auth.js";
import { emptyBodyAsObject } from "../schemas/common.js";
import { DeliverySearchQuery, IdParams, PublisherCreateBody, SubscriptionCreateBody, SubscriptionUpdateBody, TimeRangeBody } from "../schemas/subscriptions.js";
import {
  deliveryDetailOut,
  deliveryOut,
  deliverySearchFromWire,
  publisherInputFromWire,
  subscriptionChangesFromWire,
  subscriptionInputFromWire,
  subscriptionOut,
  timeRangeFromWire,
} from "../wire/subscriptions.js";

/** What {@link registerSubscriptionRoutes} uses. */
export interface SubscriptionRoutesOptions {
  subscriptions: SubscriptionService;
  basePath: string;
}

/** Subscriptions, Postoffice publishers and deliveries under `BASE_PATH` (admin). */
export function registerSubscriptionRoutes(instance: FastifyInstance, { subscriptions: subs, basePath: base }: SubscriptionRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const admin = { onRequest: adminOnly };
  const byId = { ...admin, schema: { params: IdParams } };
  const optionalBody = { preValidation: emptyBodyAsObject };

  fastify.post(`${base}/subscriptions`, { ...admin, schema: { body: SubscriptionCreateBody } }, async (request, reply) =>
    reply.status(201).send(subscriptionOut(await subs.create(subscriptionInputFromWire(request.body)), true)),
  );
  fastify.get(`${base}/subscriptions`, admin, async () => ({ data: (await subs.list()).map((s) => subscriptionOut(s)) }));
  fastify.get(`${base}/subscriptions/:id`, byId, async (request) => subscriptionOut(await subs.get(request.params.id)));
  fastify.get(`${base}/subscriptions/:id/secret`, byId, async (request) => ({ secret: (await subs.get(request.params.id)).secret }));
  fastify.get(`${base}/subscriptions/:id/headers`, byId, async (request) => ({ headers: (await subs.get(request.params.id)).headers }));
  const update = { ...admin, ...optionalBody, schema: { params: IdParams, body: SubscriptionUpdateBody } };
  fastify.patch(`${base}/subscriptions/:id`, update, async (request) =>
    subscriptionOut(await subs.update(request.params.id, subscriptionChangesFromWire(request.body))),
  );
  fastify.put(`${base}/subscriptions/:id`, update, async (request) =>
    subscriptionOut(await subs.update(request.params.id, subscriptionChangesFromWire(request.body))),
  );
  fastify.delete(`${base}/subscriptions/:id`, byId, async (request, reply) => {
    await subs.delete(request.params.id);
    return reply.status(204).send();
  });
  fastify.post(`${base}/subscriptions/:id/pause`, byId, async (request) => subscriptionOut(await subs.pause(request.params.id)));
  fastify.post(`${base}/subscriptions/:id/resume`, byId, async (request) => subscriptionOut(await subs.resume(request.params.id)));
  const range = { ...admin, ...optionalBody, schema: { params: IdParams, body: TimeRangeBody } };
  fastify.post(`${base}/subscriptions/:id/retry`, range, async (request, reply) =>
    reply.status(202).send(await subs.retryDead(request.params.id, timeRangeFromWire(request.body))),
  );
  fastify.post(`${base}/subscriptions/:id/replay`, range, async (request, reply) =>
    reply.status(202).send(await subs.replay(request.params.id, timeRangeFromWire(request.body))),
  );

  fastify.post(`${base}/publishers`, { ...admin, schema: { body: PublisherCreateBody } }, async (request, reply) =>
    reply.status(201).send(subscriptionOut(await subs.createPublisher(publisherInputFromWire(request.body)), true)),
  );

  fastify.get(`${base}/deliveries`, { ...admin, schema: { querystring: DeliverySearchQuery } }, async (request) => {
    const page = await subs.searchDeliveries(deliverySearchFromWire(request.query));
    return { data: page.deliveries.map((d) => deliveryOut(d)), next_cursor: page.nextCursor };
  });
  fastify.get(`${base}/deliveries/:id`, byId, async (request) => deliveryDetailOut(await subs.getDelivery(request.params.id)));
  fastify.post(`${base}/deliveries/:id/retry`, byId, async (request, reply) =>
    reply.status(202).send(deliveryOut(await subs.retryDelivery(request.params.id))),
  );
}
