import type { AttemptRecord } from "../store/store.js";
import type { DeliveryOutcome } from "./destination.js";
import { nextDelayMs } from "./webhooks/retry-policy.js";

/** What an attempt leaves its delivery in. */
export interface DeliveryVerdict {
  status: "delivered" | "retrying" | "dead";
  /** When the next attempt is due; null unless retrying. */
  nextAttemptAt: number | null;
}

/**
 * What an attempt leaves its delivery in: delivered on success; retrying after the schedule's next delay (or the
 * receiver's Retry-After, when later) on any failure, 4xx included; dead once the schedule is spent or the event is
 * no longer stored.
 */
export function deliveryVerdict(
  retrySchedule: readonly number[],
  attempts: number,
  outcome: DeliveryOutcome,
  eventStored: boolean,
  now: number,
  random: () => number = Math.random,
): DeliveryVerdict {
  if (outcome.ok) return { status: "delivered", nextAttemptAt: null };
  const delay = eventStored ? nextDelayMs(retrySchedule, attempts, random) : undefined;
  if (delay === undefined) return { status: "dead", nextAttemptAt: null };
  return { status: "retrying", nextAttemptAt: now + Math.max(delay, outcome.retryAfterMs ?? 0) };
}

/** The subscription's health before an attempt: since when its attempts have all failed (null: it is healthy). */
export interface Health {
  failingSince: number | null;
}

/**
 * Why a failed attempt disables its subscription, or undefined: the receiver answered 410 Gone, or every attempt
 * has failed for `disableAfterMs`.
 */
export function disableReason(outcome: DeliveryOutcome, health: Health, now: number, disableAfterMs: number): string | undefined {
  if (outcome.gone) return "the endpoint answered 410 Gone";
  const since = health.failingSince;
  if (since !== null && now - since >= disableAfterMs) return `every attempt failed for ${Math.round((now - since) / 3_600_000)} h`;
  return undefined;
}

/** The outcome of an attempt when the event is no longer stored: it fails at once, without a send. */
export const EVENT_GONE: DeliveryOutcome = Object.freeze({
  ok: false,
  status: null,
  latencyMs: 0,
  responseExcerpt: null,
  error: "the event is no longer stored",
  gone: false,
});

/** The record of one attempt and the state it leaves its delivery in. */
export function attemptRecord(
  delivery: { id: string; subscriptionId: string },
  attemptedAt: number,
  outcome: DeliveryOutcome,
  verdict: DeliveryVerdict,
  attempts: number,
): AttemptRecord {
  return {
    deliveryId: delivery.id,
    subscriptionId: delivery.subscriptionId,
    attemptedAt,
    statusCode: outcome.status,
    latencyMs: outcome.latencyMs,
    responseExcerpt: outcome.responseExcerpt,
    error: outcome.error,
    status: verdict.status,
    attempts,
    nextAttemptAt: verdict.nextAttemptAt,
  };
}
