import { Type, type Static } from "typebox";
import { bodyErrors, checkedInHandler, oneParam, rangeAndPageParams, TimeInput } from "./common.js";

/** One event as a client posts it. */
export const EventIn = Type.Object(
  {
    topic: Type.Optional(Type.String({ description: "The topic; or `?topic=`, or the path of `/topics/:topic/events`." })),
    id: Type.Optional(Type.String({ description: "The event id; generated (`evt_…`) when not given. A repeated id is refused." })),
    type: Type.Optional(Type.String({ description: "The event type." })),
    source: Type.Optional(Type.String({ description: "Where the event comes from." })),
    subject: Type.Optional(Type.String({ description: "What the event is about." })),
    key: Type.Optional(Type.String({ description: "Ordering key: deliveries of one key can go in order." })),
    time: Type.Optional(TimeInput),
    data: Type.Optional(Type.Unknown({ description: "Any JSON value, stored exactly as posted." })),
    payload: Type.Optional(Type.Unknown({ description: "Postoffice's name for `data`." })),
    attributes: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "String attributes." })),
  },
  { $id: "EventIn", title: "Event", description: "An envelope; a body that is not one is the data of a single event." },
);

/**
 * `POST BASE_PATH/events` (and `/messages`): an event, an array of them, or bare data with `?topic=`; CloudEvents in
 * structured, batch and binary mode. Documentation only: the publish path is hot, and the normalizers check the body
 * in the same pass that reads it (`ingest/normalize.ts`).
 */
export const PublishBody = checkedInHandler(
  Type.Union([EventIn, Type.Array(EventIn), Type.Unknown()], {
    $id: "PublishBody",
    title: "Events to publish",
    description: "One event, an array of events (all or nothing), or the data of one event.",
  }),
);

/** `?topic=` of the publish routes; documentation only, like the body. */
export const PublishQuery = checkedInHandler(
  Type.Object({ topic: Type.Optional(Type.String({ description: "The topic of events that do not name one." })) }, { $id: "PublishQuery" }),
);

/** `:topic` in the path. */
export const TopicParams = Type.Object({ topic: Type.String({ description: "The topic name." }) }, { $id: "TopicParams" });

const topicParam = Type.Union([Type.String(), Type.Array(Type.String())], {
  description: "Topic names or patterns, repeated or comma-separated (at most 50).",
});

/** `GET BASE_PATH/events`: reserved parameters, and any other is equality on a top-level data field. */
export const EventSearchQuery = Type.Object(
  {
    topic: Type.Optional(topicParam),
    type: Type.Optional(oneParam("The event type.")),
    key: Type.Optional(oneParam("The ordering key.")),
    ...rangeAndPageParams({ from: "Events at or after this time.", to: "Events before this time." }),
    order: Type.Optional(oneParam("asc (default) or desc.")),
    filter: Type.Optional(oneParam("A CEL expression over the event.")),
    format: Type.Optional(
      oneParam(
        "\"rows\": a bare JSON array of flat rows as Simple Event Handler answers (`id` the seq, the data's fields, `created_at` the time); the next page's cursor is in the `Next-Cursor` header.",
      ),
    ),
  },
  {
    $id: "EventSearchQuery",
    title: "Event search",
    additionalProperties: oneParam("Equality on a top-level data field: numbers, true, false and null are typed."),
    ...bodyErrors("SB_QUERY_INVALID"),
  },
);
export type EventSearchQuery = Static<typeof EventSearchQuery>;

/** `GET /events` and `GET BASE_PATH/topics/:topic/stream`: other parameters are ignored. */
export const StreamQuery = Type.Object(
  {
    topic: Type.Optional(topicParam),
    filter: Type.Optional(oneParam("A CEL expression over the event.")),
    envelope: Type.Optional(oneParam("true: send the envelope, not the data alone.")),
    last_event_id: Type.Optional(oneParam("Resume after this event id (or send the Last-Event-ID header).")),
  },
  { $id: "StreamQuery", title: "Stream selection", ...bodyErrors("SB_QUERY_INVALID") },
);
export type StreamQuery = Static<typeof StreamQuery>;

/** `POST BASE_PATH/events/import`: envelopes as the API shows them, each with its id; documentation only (the normalizer checks them). */
export const ImportBody = checkedInHandler(
  Type.Array(Type.Intersect([EventIn, Type.Object({ id: Type.String(), seq: Type.Optional(Type.Number()), received_at: Type.Optional(Type.String()) })]), {
    $id: "ImportBody",
    title: "Events to import",
    description: "Events with their ids, as an export wrote them (JSON array, or NDJSON: one event a line). `seq` and `received_at` are assigned anew.",
  }),
);
