import { Type, type Static } from "typebox";
import { bodyErrors, ERROR_CODE, REQUIRED_FIRST } from "./common.js";

const TEXT_LIMIT = 4096;
const TOPIC_FIELDS = "name, description, schema, origin_host, retention_ms, storage";

/** A string of at most 4096 characters, or null. */
function optionalText(field: string, description: string) {
  return Type.Optional(
    Type.Unsafe<string | null>({
      type: ["string", "null"],
      maxLength: TEXT_LIMIT,
      description,
      errorMessage: { type: `${field} must be a string`, maxLength: `${field} is at most ${TEXT_LIMIT} characters` },
    }),
  );
}

/** The fields of a topic but its name. */
function topicFields() {
  return {
    description: optionalText("description", "What the topic carries."),
    schema: Type.Optional(
      Type.Unsafe<Record<string, unknown> | null>({
        type: ["object", "null"],
        description: "A JSON Schema every event's data must match; null for none.",
        errorMessage: "schema must be a JSON Schema object or null",
        [ERROR_CODE]: "SB_TOPIC_SCHEMA_INVALID",
      }),
    ),
    origin_host: optionalText("origin_host", "Postoffice's origin host of the topic."),
    retention_ms: Type.Optional(
      Type.Unsafe<number | null>({
        type: ["integer", "null"],
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: "How long events are kept, ms (0: forever); null for the hub's default.",
        errorMessage: "retention_ms must be a whole number of milliseconds (0: keep forever) or null (the hub's default)",
      }),
    ),
    storage: Type.Optional(
      Type.Unsafe<"log" | "none">({
        type: "string",
        enum: ["log", "none"],
        description:
          "`log` (the default): events are stored, searchable, replayed and delivered. `none`: live-only, events go to the open streams and are never stored (no seq, no search, no replay, no webhooks); see docs/streams.md.",
        errorMessage: 'storage must be "log" or "none"',
      }),
    ),
  };
}

/** `POST BASE_PATH/topics`. */
export const TopicCreateBody = Type.Object(
  {
    name: Type.String({ description: "The topic name: dot-separated segments.", errorMessage: "a topic name must be a string" }),
    ...topicFields(),
  },
  {
    $id: "TopicCreate",
    title: "New topic",
    additionalProperties: false,
    errorMessage: { type: "the body must be a JSON object with at least a name" },
    [REQUIRED_FIRST]: true,
    ...bodyErrors("SB_TOPIC_INVALID", `unknown field {name}; topics have ${TOPIC_FIELDS}`),
  },
);
export type TopicCreateBody = Static<typeof TopicCreateBody>;

/** `PATCH`/`PUT BASE_PATH/topics/:name`: a missing body changes nothing. */
export const TopicUpdateBody = Type.Object(topicFields(), {
  $id: "TopicUpdate",
  title: "Topic changes",
  description: "Fields to change; absent ones stay as they are.",
  additionalProperties: false,
  errorMessage: { type: "the body must be a JSON object" },
  ...bodyErrors("SB_TOPIC_INVALID", `unknown field {name}; topics have ${TOPIC_FIELDS}`),
});
export type TopicUpdateBody = Static<typeof TopicUpdateBody>;

/** `:name` in the path. */
export const TopicNameParams = Type.Object({ name: Type.String({ description: "The topic name." }) }, { $id: "TopicNameParams" });
