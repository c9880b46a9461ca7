import type { FastifyInstance } from "fastify";
import type { Hub } from "../../hub.js";
import { adminOnly } from "../auth.js";
import type { Topic } from "../../store/store.js";
import { formatTime } from "../../time.js";

/** A topic on the wire. */
export function topicOut(t: Topic) {
  return {
    name: t.name,
    description: t.description,
    schema: t.schema,
    origin_host: t.originHost,
    created_at: formatTime(t.createdAt),
    updated_at: formatTime(t.updatedAt),
    event_count: t.eventCount,
    last_event_at: t.lastEventAt === null ? null : formatTime(t.lastEventAt),
    retention_ms: t.retentionMs,
  };
}

/** Topic CRUD under `BASE_PATH/topics`. */
export function registerTopicRoutes(fastify: FastifyInstance, hub: Hub): void {
  const base = `${hub.config.basePath}/topics`;
  type Named = { Params: { name: string } };
  const admin = { onRequest: adminOnly };

  fastify.post(base, admin, async (request, reply) => reply.status(201).send(topicOut(await hub.topics.create(request.body))));
  fastify.get(base, admin, async () => ({ data: (await hub.topics.list()).map(topicOut) }));
  fastify.get<Named>(`${base}/:name`, admin, async (request) => topicOut(await hub.topics.get(request.params.name)));
  const update = async (request: { params: { name: string }; body: unknown }) =>
    topicOut(await hub.topics.update(request.params.name, request.body ?? {}));
  fastify.patch<Named>(`${base}/:name`, admin, update);
  fastify.put<Named>(`${base}/:name`, admin, update);
  fastify.delete<Named>(`${base}/:name`, admin, async (request, reply) => {
    await hub.topics.delete(request.params.name);
    return reply.status(204).send();
  });
}
