import type { Topic, TopicInput, TopicPatch } from "../../store/store.js";
import { formatTime } from "../../time.js";
import type { TopicCreateBody, TopicUpdateBody } from "../schemas/topics.js";

/** `POST /topics` body → {@link TopicInput}. */
export function topicInputFromWire(body: TopicCreateBody): TopicInput {
  return { name: body.name, ...topicPatchFromWire(body) };
}

/** `PATCH`/`PUT /topics/:name` body → {@link TopicPatch}. */
export function topicPatchFromWire(body: TopicUpdateBody): TopicPatch {
  const patch: TopicPatch = {};
  if (body.description !== undefined) patch.description = body.description;
  if (body.origin_host !== undefined) patch.originHost = body.origin_host;
  if (body.retention_ms !== undefined) patch.retentionMs = body.retention_ms;
  if (body.schema !== undefined) patch.schema = body.schema;
  if (body.storage !== undefined) patch.storage = body.storage;
  return patch;
}

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
    storage: t.storage,
  };
}
