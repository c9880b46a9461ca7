import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { TopicCatalog } from "../../ingest/topic-catalog.js";
import { adminOnly } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { emptyBodyAsObject } from "../schemas/common.js";
import { TopicList, TopicOut } from "../schemas/responses.js";
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
  const topicReply = (status: number, description: string) => [{ status, description, schema: TopicOut }];
  const notFound = ["SB_TOPIC_NOT_FOUND"] as const;

  const createDoc = documented({ summary: "Create a topic", replies: topicReply(201, "Created."), errors: ["SB_TOPIC_EXISTS"] });
  fastify.post(base, { ...admin, schema: { body: TopicCreateBody }, ...createDoc }, async (request, reply) =>
    reply.status(201).send(topicOut(await topics.create(topicInputFromWire(request.body)))),
  );
  const listDoc = documented({ summary: "List topics", replies: [{ status: 200, description: "Every topic.", schema: TopicList }] });
  fastify.get(base, { ...admin, ...listDoc }, async () => ({ data: (await topics.list()).map(topicOut) }));
  const getDoc = documented({ summary: "One topic", replies: topicReply(200, "The topic."), errors: notFound });
  fastify.get(`${base}/:name`, { ...named, ...getDoc }, async (request) => topicOut(await topics.get(request.params.name)));
  const update = { ...admin, preValidation: emptyBodyAsObject, schema: { params: TopicNameParams, body: TopicUpdateBody } };
  const updateDoc = (summary: string) =>
    documented({ summary, replies: topicReply(200, "The topic as changed."), errors: [...notFound, "SB_TOPIC_LIVE_ONLY"], bodyOptional: true });
  fastify.patch(`${base}/:name`, { ...update, ...updateDoc("Change a topic") }, async (request) =>
    topicOut(await topics.update(request.params.name, topicPatchFromWire(request.body))),
  );
  fastify.put(`${base}/:name`, { ...update, ...updateDoc("Change a topic (as PATCH)") }, async (request) =>
    topicOut(await topics.update(request.params.name, topicPatchFromWire(request.body))),
  );
  const deleteDoc = documented({ summary: "Delete a topic", replies: [{ status: 204, description: "Deleted." }], errors: notFound });
  fastify.delete(`${base}/:name`, { ...named, ...deleteDoc }, async (request, reply) => {
    await topics.delete(request.params.name);
    return reply.status(204).send();
  });
}
