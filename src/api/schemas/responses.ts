import { Type, type TSchema } from "typebox";
import { LATENCY_LABELS } from "../../store/rollups.js";

/**
 * The success replies, for the OpenAPI document only: they are not fastify `response` schemas, since those would
 * reserialise every reply (dropping what they do not list, and costing time on the hot paths that splice stored JSON
 * text in). `test/api/openapi.test.ts` checks real replies against them.
 */

const nullableString = (description: string) => Type.Union([Type.String(), Type.Null()], { description });
const time = (description: string) => Type.String({ description: `${description} RFC 3339, UTC, milliseconds.` });
const nullableTime = (description: string) => Type.Union([time(description), Type.Null()]);

/** One list page: `data` and the cursor of the next page (null on the last). */
function page(item: TSchema, id: string, title: string) {
  return Type.Object(
    { data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()], { description: "Pass as `cursor` for the next page; null on the last." }) },
    { $id: id, title },
  );
}

/** A whole list, no paging. */
function list(item: TSchema, id: string, title: string) {
  return Type.Object({ data: Type.Array(item) }, { $id: id, title });
}

/** `201` of publishing one event; a batch answers an array of them, in order. */
export const PublishResult = Type.Object(
  {
    id: Type.String({ description: "The event id (the client's, or a generated `evt_…`)." }),
    seq: Type.Union([Type.Integer(), Type.Null()], {
      description: "The event's position in the hub: ascending, gapless per commit order. Null for an event of a live-only topic (never stored).",
    }),
    topic: Type.String({ description: "The topic the event went to." }),
    stored: Type.Optional(
      Type.Literal(false, { description: 'Only on an event of a live-only topic (`storage: "none"`): sent to the open streams, not stored.' }),
    ),
  },
  {
    $id: "PublishResult",
    title: "Published event",
    description: "A repeat of a client id or Idempotency-Key answers the first event's. An event of a live-only topic answers `seq: null, stored: false`.",
  },
);

/** An event as search, `GET /events/:id` and `?envelope=true` streams show it. */
export const EventOut = Type.Object(
  {
    id: Type.String(),
    seq: Type.Integer(),
    topic: Type.String(),
    type: nullableString("The event type."),
    source: nullableString("Where the event comes from."),
    subject: nullableString("What the event is about."),
    time: time("When the event happened (the client's `time`, else when it was received)."),
    key: nullableString("The ordering key."),
    data: Type.Unknown({ description: "The data exactly as posted." }),
    attributes: Type.Record(Type.String(), Type.String()),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: "The publish request's headers named by SWITCHBOARD_CAPTURE_HEADERS (lower-case names); only when some were kept.",
      }),
    ),
    received_at: time("When the hub stored it."),
  },
  { $id: "Event", title: "Stored event" },
);

/** `GET BASE_PATH/events`. */
export const EventPage = page(EventOut, "EventPage", "A page of events");

/** `GET BASE_PATH/events?format=rows`: Simple Event Handler's flat rows. */
export const EventRows = Type.Array(
  Type.Object(
    {
      id: Type.Integer({ description: "The event's seq (Simple Event Handler's serial id)." }),
      created_at: time("The event's time."),
    },
    { additionalProperties: Type.Unknown(), description: "The fields of the event's data (an object), or `data` when it is not one." },
  ),
  { $id: "EventRows", title: "Events as flat rows" },
);

/** One attempt to deliver. */
const AttemptOut = Type.Object({
  attempted_at: time("When the attempt began."),
  status_code: Type.Union([Type.Integer(), Type.Null()], { description: "The target's HTTP status; null when none came back." }),
  latency_ms: Type.Number(),
  response_excerpt: nullableString("The start of the target's reply."),
  error: nullableString("Why the attempt failed, when it did not get a reply."),
});

/** A delivery of one event to one subscription; `attempts` only where one delivery is shown. */
export const DeliveryOut = Type.Object(
  {
    id: Type.String({ description: "`dlv_…`" }),
    subscription_id: Type.String(),
    event_id: Type.String(),
    event_seq: Type.Integer(),
    status: Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("retrying"), Type.Literal("dead")]),
    attempt_count: Type.Integer(),
    next_attempt_at: nullableTime("When the next attempt is due; null unless pending or retrying."),
    last_status: Type.Union([Type.Integer(), Type.Null()]),
    last_error: nullableString("Why the last attempt failed."),
    created_at: time("Created."),
    updated_at: time("Last changed."),
    delivered_at: nullableTime("When it succeeded."),
    attempts: Type.Optional(Type.Array(AttemptOut)),
  },
  { $id: "Delivery", title: "Delivery" },
);

/** `GET BASE_PATH/deliveries`. */
export const DeliveryPage = page(DeliveryOut, "DeliveryPage", "A page of deliveries");

/** `GET BASE_PATH/events/:id`: the event and, for admin, its deliveries with their attempts. */
export const EventDetail = Type.Intersect([EventOut, Type.Object({ deliveries: Type.Array(DeliveryOut) })], {
  $id: "EventDetail",
  title: "Event with its deliveries",
});

/** A topic with its statistics. */
export const TopicOut = Type.Object(
  {
    name: Type.String(),
    description: nullableString("What the topic carries."),
    schema: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: "The JSON Schema of its events' data." }),
    origin_host: nullableString("Postoffice's origin host."),
    created_at: time("Created."),
    updated_at: time("Last changed."),
    event_count: Type.Integer(),
    last_event_at: nullableTime("When its last event was stored."),
    retention_ms: Type.Union([Type.Integer(), Type.Null()], { description: "How long events are kept, ms (0: forever); null: the hub's default." }),
    storage: Type.Union([Type.Literal("log"), Type.Literal("none")], { description: "`log`: events are stored; `none`: live-only, never stored." }),
  },
  { $id: "Topic", title: "Topic" },
);

/** `GET BASE_PATH/topics`. */
export const TopicList = list(TopicOut, "TopicList", "Topics");

/** A subscription; `secret` only in the reply that creates it, header values masked elsewhere. */
export const SubscriptionOut = Type.Object(
  {
    id: Type.String({ description: "`sub_…`" }),
    kind: Type.String({ description: "The destination kind: http, nats, amqp, mqtt, redis, or function (an in-process handler, read-only here)." }),
    name: Type.Optional(Type.String({ description: "A handler's durable name (kind function only)." })),
    priority: Type.Optional(Type.Integer({ description: "A handler's priority (kind function only)." })),
    topic: Type.String(),
    url: Type.String({ description: "The target; credentials in it masked." }),
    filter: nullableString("The filter as written, in `filter_syntax`."),
    filter_syntax: Type.Union([Type.Literal("cel"), Type.Literal("switch")], { description: "The syntax `filter` is written in." }),
    filter_cel: nullableString("The CEL that runs: `filter` itself, or its translation."),
    headers: Type.Record(Type.String(), Type.String()),
    secret: Type.Optional(Type.String({ description: "The signing secret; only when the subscription is created." })),
    active: Type.Boolean(),
    disabled_reason: nullableString("Why the hub turned it off."),
    ordering: Type.Union([Type.Literal("none"), Type.Literal("key")]),
    retry: Type.Object({ schedule: Type.Array(Type.Number(), { description: "Delays in seconds." }) }),
    timeout_ms: Type.Integer(),
    max_in_flight: Type.Integer(),
    rate_limit: Type.Union([Type.Number(), Type.Null()]),
    body: Type.Union([Type.Literal("data"), Type.Literal("envelope")]),
    failing_since: nullableTime("When deliveries began to fail."),
    created_at: time("Created."),
    updated_at: time("Last changed."),
  },
  { $id: "Subscription", title: "Subscription" },
);

/** `GET BASE_PATH/subscriptions`. */
export const SubscriptionList = list(SubscriptionOut, "SubscriptionList", "Subscriptions");

/** `GET BASE_PATH/subscriptions/:id/secret`. */
export const SubscriptionSecret = Type.Object({ secret: Type.String() }, { $id: "SubscriptionSecret", title: "Signing secret" });

/** `GET BASE_PATH/subscriptions/:id/headers`: the values in clear. */
export const SubscriptionHeaders = Type.Object({ headers: Type.Record(Type.String(), Type.String()) }, { $id: "SubscriptionHeaders", title: "Extra headers" });

/** `202` of `POST …/retry`. */
export const RetryResult = Type.Object({ retried: Type.Integer({ description: "Dead deliveries scheduled again." }) }, { $id: "RetryResult" });

/** `202` of `POST …/replay`. */
export const ReplayResult = Type.Object({ replayed: Type.Integer({ description: "Events scheduled for delivery again." }) }, { $id: "ReplayResult" });

/** An API key: never its hash; `token` only in the reply that creates it. */
export const ApiKeyOut = Type.Object(
  {
    id: Type.String({ description: "`key_…`" }),
    name: nullableString("A label for people."),
    prefix: Type.String({ description: "The token's first characters, to tell keys apart." }),
    scopes: Type.Array(Type.String()),
    token: Type.Optional(Type.String({ description: "`sbk_…`: shown once, at creation." })),
    created_at: time("Created."),
    revoked_at: nullableTime("When it was revoked."),
  },
  { $id: "ApiKey", title: "API key" },
);

/** `GET BASE_PATH/keys`. */
export const ApiKeyList = list(ApiKeyOut, "ApiKeyList", "API keys");

/** `/health` and `BASE_PATH/health`. */
export const HealthOut = Type.Object(
  {
    status: Type.Literal("ok"),
    store: Type.String({ description: "sqlite or postgres." }),
    streams: Type.Integer({ description: "Open SSE streams on this node." }),
  },
  { $id: "Health", title: "Health" },
);

/** `/ready`: 200 when ready, 503 `{status}` while starting or draining. */
export const ReadyOut = Type.Object(
  {
    status: Type.Union([Type.Literal("ready"), Type.Literal("starting"), Type.Literal("draining"), Type.Literal("store_unavailable")]),
    destinations: Type.Optional(
      Type.Array(
        Type.Object({
          kind: Type.String(),
          endpoint: Type.Optional(Type.String({ description: "The broker, without credentials (only with auth off)." })),
          state: Type.Union([Type.Literal("connecting"), Type.Literal("connected"), Type.Literal("disconnected")]),
          subscriptions: Type.Integer(),
          error: Type.Optional(nullableString("Why the last connection failed or was lost (only with auth off).")),
        }),
        { description: "Broker endpoints in use; absent when none. With auth on, kind, state and subscriptions only." },
      ),
    ),
  },
  { $id: "Ready", title: "Readiness" },
);

/** A broker endpoint in use on this node. */
const EndpointOut = Type.Object(
  {
    kind: Type.String(),
    endpoint: Type.String({ description: "The broker, without credentials." }),
    state: Type.Union([Type.Literal("connecting"), Type.Literal("connected"), Type.Literal("disconnected")]),
    subscriptions: Type.Integer({ description: "Subscriptions using it on this node." }),
    error: nullableString("Why the last connection failed or was lost; null once connected."),
  },
  { $id: "DestinationEndpoint", title: "Broker endpoint" },
);

/** `GET BASE_PATH/destinations`. */
export const DestinationsOut = Type.Object(
  {
    kinds: Type.Array(Type.Object({ kind: Type.String(), schemes: Type.Array(Type.String()) }), { description: "Each kind with its url schemes." }),
    endpoints: Type.Array(EndpointOut),
  },
  { $id: "Destinations", title: "Destination kinds and broker endpoints" },
);

/** `GET BASE_PATH/auth/session` and `POST BASE_PATH/auth/login`. */
export const SessionOut = Type.Object(
  {
    auth: Type.Boolean({ description: "Whether the hub requires a credential." }),
    signed_in: Type.Optional(Type.Boolean({ description: "Whether the request carries a valid one (always true with auth off)." })),
    scopes: Type.Array(Type.String(), { description: "Its scopes; `admin` with auth off." }),
  },
  { $id: "Session", title: "Console session" },
);

/** `GET BASE_PATH/stats/events`. */
export const EventStatsOut = Type.Object(
  {
    buckets: Type.Array(
      Type.Object({
        t: time("The bucket's start."),
        topic: Type.Optional(Type.String({ description: "With `group_by=topic`." })),
        type: Type.Optional(nullableString("With `group_by=type`.")),
        count: Type.Integer(),
        bytes: Type.Integer({ description: "Bytes of data." }),
      }),
    ),
  },
  { $id: "EventStats", title: "Event counts per interval" },
);

/** `GET BASE_PATH/stats/deliveries`. */
export const DeliveryStatsOut = Type.Object(
  {
    buckets: Type.Array(
      Type.Object({
        t: time("The bucket's start."),
        delivered: Type.Integer(),
        failed: Type.Integer(),
        dead: Type.Integer(),
        latency_ms: Type.Object({
          sum: Type.Number(),
          // Fixed keys rather than a record: the serializer then writes them without a loop over patterns.
          histogram: Type.Object(Object.fromEntries(LATENCY_LABELS.map((le) => [le, Type.Integer()])), {
            description: "Attempts per latency bucket, keyed by its upper bound in ms (`+Inf` last); not cumulative.",
          }),
        }),
      }),
    ),
  },
  { $id: "DeliveryStats", title: "Delivery outcomes per interval" },
);

/** `GET BASE_PATH/events/aggregate`. */
export const AggregateOut = Type.Object(
  {
    buckets: Type.Array(
      Type.Object(
        { t: time("The bucket's start."), group: Type.Optional(Type.Unknown({ description: "The `group_by` value; null when missing." })) },
        { additionalProperties: Type.Union([Type.Number(), Type.Null()]), description: "Each metric by its name (`count`, `sum:data.amount`…)." },
      ),
    ),
    skipped: Type.Record(Type.String(), Type.Integer(), { description: "Events skipped per field: missing or not a number." }),
    scanned: Type.Integer({ description: "Events read." }),
    ran_in: Type.Union([Type.Literal("database"), Type.Literal("hub")], {
      description: "`database` when pushed down to SQL; `hub` when the events were read and aggregated here (a CEL filter).",
    }),
  },
  { $id: "Aggregate", title: "Aggregation" },
);

/** A continuous aggregate's definition and the progress of its backfill. */
export const ContinuousAggregateOut = Type.Object(
  {
    name: Type.String(),
    topic: Type.String({ description: "The topic name or pattern." }),
    filter: Type.Optional(Type.String({ description: "The CEL filter." })),
    group_by: Type.Optional(Type.String()),
    metrics: Type.Array(Type.String(), { description: "The metrics, by name (`count`, `sum:data.amount`…)." }),
    interval: Type.String({ description: "1m, 5m, 1h or 1d." }),
    publish: Type.Boolean({ description: "Whether each closed bucket is published on `switchboard.aggregate.<name>`." }),
    created_at: time("When it was created; events committed since are counted at commit."),
    backfill: Type.Union(
      [
        Type.Object({
          state: Type.Union([Type.Literal("running"), Type.Literal("done"), Type.Literal("failed")]),
          done: Type.Integer({ description: "Seqs of the log read so far." }),
          total: Type.Integer({ description: "Seqs of the log to read: those stored before the aggregate was created." }),
          from: Type.Union([time("Events whose time is at or after this."), Type.Null()]),
          to: Type.Union([time("Events whose time is before this."), Type.Null()]),
        }),
        Type.Null(),
      ],
      { description: "null until a backfill is asked for." },
    ),
  },
  { $id: "ContinuousAggregate", title: "Continuous aggregate" },
);

export const ContinuousAggregateList = list(ContinuousAggregateOut, "ContinuousAggregateList", "Continuous aggregates");

/** `GET BASE_PATH/aggregates/:name`: the definition and its buckets, shaped as those of `/events/aggregate`. */
export const ContinuousAggregateRead = Type.Object(
  {
    ...ContinuousAggregateOut.properties,
    buckets: Type.Array(
      Type.Object(
        { t: time("The bucket's start."), group: Type.Optional(Type.Unknown({ description: "The `group_by` value; null when missing." })) },
        { additionalProperties: Type.Union([Type.Number(), Type.Null()]), description: "Each metric by its name (`count`, `sum:data.amount`…)." },
      ),
    ),
  },
  { $id: "ContinuousAggregateRead", title: "Continuous aggregate and its buckets" },
);

/** `POST BASE_PATH/events/import`. */
export const ImportResult = Type.Object(
  { imported: Type.Integer({ description: "Events stored." }), skipped: Type.Integer({ description: "Events whose id was stored already." }) },
  { $id: "ImportResult", title: "Import result" },
);

/** `POST BASE_PATH/subscriptions/:id/test`. */
export const TestSendOut = Type.Object(
  {
    event_id: Type.String({ description: "The test event's id (not stored)." }),
    delivery_id: Type.String({ description: "The id the destination saw (`webhook-id`, message id)." }),
    ok: Type.Boolean({ description: "Whether the destination accepted it." }),
    status: Type.Union([Type.Integer(), Type.Null()], { description: "The HTTP status; null for brokers and when nothing answered." }),
    latency_ms: Type.Number(),
    response_excerpt: nullableString("The first 4 KiB of the answer."),
    error: nullableString("Why nothing answered."),
  },
  { $id: "TestSend", title: "Test send" },
);

/** `POST BASE_PATH/subscriptions/:id/secret/rotate`. */
export const RotatedSecret = Type.Object(
  {
    secret: Type.String({ description: "The new signing secret (`whsec_…`)." }),
    previous_secret_expires_at: nullableTime("Until when the previous secret signs too; null when it stopped at once."),
  },
  { $id: "RotatedSecret", title: "Rotated secret" },
);
