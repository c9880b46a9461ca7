/**
 * Rows of the delivery tables as both dialects return them (integers and text alike in SQLite and PostgreSQL, with
 * int8 read as numbers), and their mapping to the store's types.
 */
import type { Attempt, Delivery } from "./store.js";

/** A row of `deliveries`. */
export interface DeliveryRow {
  id: string;
  subscription_id: string;
  event_seq: number;
  event_id: string;
  ordering_key: string | null;
  status: Delivery["status"];
  attempts: number;
  next_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** A row of `attempts`. */
export interface AttemptRow {
  delivery_id: string;
  attempted_at: number;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
}

/** A delivery row as a {@link Delivery}; a finished one has no next attempt (0). */
export function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    subscriptionId: r.subscription_id,
    eventSeq: r.event_seq,
    eventId: r.event_id,
    orderingKey: r.ordering_key,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at ?? 0,
    lastStatus: r.last_status,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
  };
}

/** An attempt row as an {@link Attempt}. */
export function toAttempt(r: AttemptRow): Attempt {
  return {
    deliveryId: r.delivery_id,
    attemptedAt: r.attempted_at,
    statusCode: r.status_code,
    latencyMs: r.latency_ms,
    responseExcerpt: r.response_excerpt,
    error: r.error,
  };
}
