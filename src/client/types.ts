/**
 * The SDK's wire types, taken from the hub's own route schemas (`Static<typeof X>`) and reply mappers
 * (`ReturnType<typeof xOut>`), so the two cannot drift. Every import here is type-only: none reaches the runtime.
 */
import type { Static } from "typebox";
import type { ApiKeyCreateBody } from "../api/schemas/keys.js";
import type { DeliverySearchQuery, SubscriptionCreateBody, SubscriptionUpdateBody, TimeRangeBody } from "../api/schemas/subscriptions.js";
import type { EventIn, EventSearchQuery } from "../api/schemas/events.js";
import type { TopicCreateBody, TopicUpdateBody } from "../api/schemas/topics.js";
import type { apiKeyOut } from "../api/wire/keys.js";
import type { deliveryDetailOut, deliveryOut, subscriptionOut, testSendOut } from "../api/wire/subscriptions.js";
import type { topicOut } from "../api/wire/topics.js";
import type { LiveResult } from "../ingest/ingestor.js";
import type { AppendResult } from "../store/types.js";
import type { EventOut } from "../wire.js";

export type { ApiKeyCreateBody, DeliverySearchQuery, EventOut, EventSearchQuery, SubscriptionCreateBody, SubscriptionUpdateBody, TimeRangeBody };
export type { TopicCreateBody, TopicUpdateBody };

/** A time the API takes: RFC 3339, a date, epoch seconds or ms; a Date is sent as ISO 8601. */
export type TimeArg = string | number | Date;

/** One event as a client posts it (`POST /api/events`). */
export type EventInput = Static<typeof EventIn>;
/**
 * The reply for one published event: `{ id, seq, topic }` once stored, or `{ id, seq: null, topic, stored: false }` for
 * an event of a live-only topic (`storage: "none"`), sent to the open streams and never stored.
 */
export type PublishResult = AppendResult | LiveResult;
/** A stored event with its deliveries and their attempts (`GET /api/events/{id}`; deliveries only for admin). */
export type EventDetail = EventOut & { deliveries: Delivery[] };
/** A topic with its statistics. */
export type Topic = ReturnType<typeof topicOut>;
/** A subscription; `secret` only in the reply that creates it. */
export type Subscription = ReturnType<typeof subscriptionOut>;
/** A delivery; `attempts` when read alone. */
export type Delivery = ReturnType<typeof deliveryOut>;
/** A delivery with its attempts. */
export type DeliveryDetail = ReturnType<typeof deliveryDetailOut>;
/** An API key; `token` only in the reply that creates it. */
export type ApiKey = ReturnType<typeof apiKeyOut>;
/** What a test send came to (`POST …/subscriptions/:id/test`). */
export type TestSend = ReturnType<typeof testSendOut>;
/** One page of a list. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Options of {@link Switchboard.publish}: the envelope's fields besides topic and data, and the request's. */
export type PublishOptions = Omit<EventInput, "topic" | "data" | "payload" | "time"> & {
  time?: TimeArg;
  /** `Idempotency-Key`: a repeat of the request stores nothing and answers the first reply. */
  idempotencyKey?: string;
  signal?: AbortSignal;
};

/** One event of {@link Switchboard.publishBatch}. */
export type BatchEvent = Omit<EventInput, "time"> & { topic: string; time?: TimeArg };

/** A search: `GET /api/events`'s parameters, with `data` for equality on top-level data fields. */
export type EventSearch = Omit<EventSearchQuery, "topic" | "from" | "to" | "limit" | "cursor"> & {
  topic?: string | readonly string[];
  from?: TimeArg;
  to?: TimeArg;
  /** The page size (1 to 1000); the iterator still reads every page. */
  limit?: number;
  /** Start from this cursor (`next_cursor` of an earlier page). */
  cursor?: string;
  /** Equality on top-level data fields, e.g. `{ user_id: 123 }`. */
  data?: Record<string, string | number | boolean | null>;
  signal?: AbortSignal;
};

/** A delivery search: `GET /api/deliveries`'s parameters. */
export type DeliverySearch = Omit<DeliverySearchQuery, "from" | "to" | "limit"> & { from?: TimeArg; to?: TimeArg; limit?: number; signal?: AbortSignal };

/** A time range `[from, to)` of retry and replay. */
export interface TimeRange {
  from?: TimeArg;
  to?: TimeArg;
}

/** The reply of an import (`POST /api/events/import`). */
export interface ImportResult {
  /** Events stored now. */
  imported: number;
  /** Events whose id was stored already: left as they were. */
  skipped: number;
}
