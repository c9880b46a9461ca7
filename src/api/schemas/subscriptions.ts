import { Type, type Static } from "typebox";
import { bodyErrors, checkedInHandler, IdParams, oneParam, rangeAndPageParams, TimeInput } from "./common.js";

const SECRET_MESSAGE = "secret must look like whsec_ followed by base64 of 24-64 bytes";

/** The fields a subscription has on the wire, in the order they are checked and reported. */
function subscriptionFields() {
  return {
    topic: Type.String({ description: "A topic name or pattern (`orders.*`, `orders.**`).", errorMessage: "topic must be a string" }),
    url: Type.String({ description: "The webhook target: an http(s) URL.", errorMessage: "url must be a string" }),
    filter: Type.Union([Type.String(), Type.Null()], {
      description: "A CEL expression over the event (or one in `filter_syntax`); null or empty for none.",
      errorMessage: "filter must be a string",
    }),
    filter_syntax: Type.Union([Type.Literal("cel"), Type.Literal("switch")], {
      description:
        'The syntax `filter` is written in: "cel" (default) or "switch" (switch\'s Python expressions, translated to CEL: see docs/migrating.md). Only with `filter`.',
      errorMessage: 'filter_syntax must be "cel" or "switch"',
    }),
    headers: checkedInHandler(
      Type.Record(Type.String(), Type.String(), {
        description: "Extra headers sent on every attempt (at most 32; no hop-by-hop or hub headers).",
      }),
    ),
    secret: Type.String({ description: "The signing secret, `whsec_` and base64; generated when not given.", errorMessage: SECRET_MESSAGE }),
    active: Type.Boolean({ description: "Whether deliveries flow.", errorMessage: "active must be true or false" }),
    ordering: Type.Union([Type.Literal("none"), Type.Literal("key")], {
      description: '"key": deliveries of one event key go one at a time, in order.',
      errorMessage: 'ordering must be "none" or "key"',
    }),
    retry: checkedInHandler(
      Type.Union([Type.Object({ schedule: Type.Array(Type.Number()) }), Type.Array(Type.Number())], {
        description: "The retry schedule: delays in seconds, `{schedule: [...]}` or the bare array (1 to 50 entries).",
      }),
    ),
    timeout_ms: Type.Integer({
      minimum: 100,
      maximum: 60_000,
      description: "Timeout of one attempt, ms.",
      errorMessage: "timeout_ms must be a whole number from 100 to 60000",
    }),
    max_in_flight: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: "Most attempts of this subscription at once.",
      errorMessage: "max_in_flight must be a whole number from 1 to 1000",
    }),
    rate_limit: Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }), Type.Null()], {
      description: "Most deliveries per second; null for no limit.",
      errorMessage: "rate_limit must be a number of deliveries per second above 0 and at most 100000, or null",
    }),
    body: Type.Union([Type.Literal("data"), Type.Literal("envelope")], {
      description: '"data": the event data as posted; "envelope": the event with its metadata.',
      errorMessage: 'body must be "data" or "envelope"',
    }),
  };
}

const fields = subscriptionFields();

/** `POST BASE_PATH/subscriptions`. Properties in the order of the old "known:" list, which the reply quotes. */
export const SubscriptionCreateBody = Type.Object(
  {
    topic: fields.topic,
    url: fields.url,
    filter: Type.Optional(fields.filter),
    filter_syntax: Type.Optional(fields.filter_syntax),
    headers: Type.Optional(fields.headers),
    secret: Type.Optional(fields.secret),
    active: Type.Optional(fields.active),
    start: Type.Optional(
      checkedInHandler(
        Type.Union([Type.Literal("now"), Type.Literal("beginning"), TimeInput], {
          description: 'Where delivery starts: "now" (default), "beginning", or the first event at or after a time.',
        }),
      ),
    ),
    ordering: Type.Optional(fields.ordering),
    retry: Type.Optional(fields.retry),
    timeout_ms: Type.Optional(fields.timeout_ms),
    max_in_flight: Type.Optional(fields.max_in_flight),
    rate_limit: Type.Optional(fields.rate_limit),
    body: Type.Optional(fields.body),
  },
  {
    $id: "SubscriptionCreate",
    title: "New subscription",
    description: "A webhook subscription to create.",
    additionalProperties: false,
    errorMessage: { type: "the body must be a JSON object" },
    ...bodyErrors("SB_SUBSCRIPTION_INVALID"),
  },
);
export type SubscriptionCreateBody = Static<typeof SubscriptionCreateBody>;

/** `PATCH`/`PUT BASE_PATH/subscriptions/:id`: any field but `start`; a missing body changes nothing. */
export const SubscriptionUpdateBody = Type.Partial(Type.Object(subscriptionFields()), {
  $id: "SubscriptionUpdate",
  title: "Subscription changes",
  description: "Fields to change; absent ones stay as they are.",
  additionalProperties: false,
  errorMessage: { type: "the body must be a JSON object" },
  ...bodyErrors("SB_SUBSCRIPTION_INVALID", `field {name} cannot be changed; changeable: {known}`),
});
export type SubscriptionUpdateBody = Static<typeof SubscriptionUpdateBody>;

/** `POST BASE_PATH/subscriptions/:id/secret/rotate`. */
export const RotateSecretBody = Type.Object(
  {
    grace_s: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 604_800,
        description: "How long the previous secret keeps signing too, in seconds (default 86400, a day; 0: it stops at once).",
        errorMessage: "grace_s must be a whole number of seconds from 0 to 604800",
      }),
    ),
  },
  {
    $id: "RotateSecret",
    title: "Secret rotation",
    additionalProperties: false,
    errorMessage: { type: "the body must be a JSON object {grace_s?}" },
    ...bodyErrors("SB_SUBSCRIPTION_INVALID", "unknown field {name}; a rotation takes grace_s"),
  },
);
export type RotateSecretBody = Static<typeof RotateSecretBody>;

/** `POST BASE_PATH/subscriptions/:id/retry` and `/replay`: a time range; other fields are ignored. */
export const TimeRangeBody = Type.Object(
  {
    from: Type.Optional(checkedInHandler(TimeInput)),
    to: Type.Optional(checkedInHandler(TimeInput)),
  },
  {
    $id: "TimeRange",
    title: "Time range",
    description: "`[from, to)`; either end may be left open.",
    errorMessage: { type: "the body must be a JSON object" },
    ...bodyErrors("SB_SUBSCRIPTION_INVALID"),
  },
);
export type TimeRangeBody = Static<typeof TimeRangeBody>;

/** Postoffice's `POST BASE_PATH/publishers`. */
export const PublisherCreateBody = Type.Object(
  {
    active: Type.Boolean({ description: "Whether deliveries flow.", errorMessage: "active must be true or false" }),
    topic: Type.String({ description: "The topic name or pattern.", errorMessage: "topic and target must be strings" }),
    target: Type.String({ description: "Where events go: a url of the kind `type` names.", errorMessage: "topic and target must be strings" }),
    type: checkedInHandler(
      Type.Union([Type.Literal("http"), Type.Literal("nats"), Type.Literal("amqp"), Type.Literal("mqtt"), Type.Literal("redis")], {
        description: 'The destination kind: "http" (target http(s)://), "nats", "amqp", "mqtt" or "redis" (target a url of that scheme, or its TLS one).',
      }),
    ),
    from_now: Type.Optional(Type.Boolean({ description: "false: deliver what the topic already holds too.", errorMessage: "from_now must be true or false" })),
  },
  {
    $id: "PublisherCreate",
    title: "New Postoffice publisher",
    description: "Postoffice's publisher: a subscription by another name.",
    required: ["active", "topic", "target", "type"],
    additionalProperties: false,
    errorMessage: { type: "the body must be a JSON object" },
    ...bodyErrors("SB_SUBSCRIPTION_INVALID", "unknown field {name}; publishers have {known}"),
  },
);
export type PublisherCreateBody = Static<typeof PublisherCreateBody>;

/** `GET BASE_PATH/deliveries`. */
export const DeliverySearchQuery = Type.Object(
  {
    subscription: Type.Optional(oneParam("Only deliveries of this subscription id.")),
    event: Type.Optional(oneParam("Only deliveries of this event id.")),
    status: Type.Optional(oneParam("pending, delivered, retrying or dead.")),
    ...rangeAndPageParams({ from: "Created at or after this time.", to: "Created before this time." }),
  },
  { $id: "DeliverySearchQuery", title: "Delivery search", ...bodyErrors("SB_QUERY_INVALID") },
);
export type DeliverySearchQuery = Static<typeof DeliverySearchQuery>;

export { IdParams };
