import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { TopicCatalog } from "../../ingest/topic-catalog.js";
import { adminOnly } from "../auth.js";
import { emptyBodyAsObject } from "../schemas/common.js";
import { TopicCreateBody, TopicNameParams, TopicUpdateBody } from "../schemas/topics.js";
import { topicInputFromWire, topicOut, topicPatchFromWire } from "../wire/topics.js";

/** What {@link registerTopicRoutes} uses. */
export interface TopicRoutesOptions {
  topics: TopicCatalog;
  basePath: string;
}

/** Topic CRUD under `BASE_PATH/topics` (admin). */
export function registerTopicRoutes(instance: FastifyInstance, { topics, basePath }: TopicRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const base = `${basePath}/topics`;
  const admin = { onRequest: adminOnly };
  const named = { ...admin, schema: { params: TopicNameParams } };

  fastify.post(base, { ...admin, schema: { body: TopicCreateBody } }, async (request, reply) =>
    reply.status(201).send(topicOut(await topics.create(topicInputFromWire(request.body)))),
  );
  fastify.get(base, admin, async () => ({ data: (await topics.list()).map(topicOut) }));
  fastify.get(`${base}/:name`, named, async (request) => topicOut(await topics.get(request.params.name)));
  const update = { ...admin, preValidation: emptyBodyAsObject, schema: { params: TopicNameParams, body: TopicUpdateBody } };
  fastify.patch(`${base}/:name`, update, async (request) => topicOut(await topics.update(request.params.name, topicPatchFromWire(request.body))));
  fastify.put(`${base}/:name`, update, async (request) => topicOut(await topics.update(request.params.name, topicPatchFromWire(request.body))));
  fastify.delete(`${base}/:name`, named, async (request, reply) => {
    await topics.delete(request.params.name);
    return reply.status(204).send();
  });
}
