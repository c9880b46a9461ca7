import { context, trace } from "@opentelemetry/api";
import { randomHex } from "../../ids.js";
import { traceparentOf } from "../../telemetry.js";
import type { StoredEvent, Subscription } from "../../store/store.js";
import { formatTime } from "../../time.js";
import { signatureFor } from "./sign.js";

/**
 * The headers of one attempt: the subscription's own, Standard Webhooks (webhook-id is the delivery id, the same on
 * every retry), CloudEvents binary mode and a traceparent continuing the event's trace.
 */
export function webhookHeaders(
  sub: Subscription,
  deliveryId: string,
  event: StoredEvent,
  body: string,
  now: number,
  userAgent: string,
): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  const headers: Record<string, string> = { ...sub.headers };
  headers["content-type"] = "application/json";
  headers["user-agent"] = userAgent;
  headers["webhook-id"] = deliveryId;
  headers["webhook-timestamp"] = String(timestamp);
  headers["webhook-signature"] = signatureFor(sub.secret, deliveryId, timestamp, body);
  // During a rotation's grace period the previous secret signs too (Standard Webhooks: space-separated signatures).
  if (sub.previousSecret && sub.previousSecretUntil != null && now < sub.previousSecretUntil) {
    headers["webhook-signature"] += ` ${signatureFor(sub.previousSecret, deliveryId, timestamp, body)}`;
  }
  setCloudEventHeaders(headers, event);
  headers["traceparent"] = traceparentFor(event.attributes.traceparent);
  return headers;
}

/** Sets the CloudEvents binary-mode attributes of `event` (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-time`, `ce-subject`). */
export function setCloudEventHeaders(headers: Record<string, string>, event: StoredEvent): void {
  headers["ce-specversion"] = "1.0";
  headers["ce-id"] = headerValue(event.id);
  headers["ce-source"] = headerValue(event.source ?? `/switchboard/topics/${event.topic}`);
  headers["ce-type"] = headerValue(event.type ?? event.topic);
  headers["ce-time"] = formatTime(event.time);
  if (event.subject !== null) headers["ce-subject"] = headerValue(event.subject);
}

/** CloudEvents binary mode percent-encodes what a header cannot carry (and `%` itself). */
export function headerValue(value: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(value)) return value;
  return value.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return "%EF%BF%BD"; // a lone surrogate: U+FFFD
    }
  });
}

/**
 * A W3C traceparent: the active delivery attempt span's when an OpenTelemetry SDK records it (see attempt-sender.ts),
 * else the event's trace continued with a new span, or a new trace.
 */
export function traceparentFor(parent: string | undefined): string {
  const active = trace.getSpan(context.active());
  if (active?.isRecording()) return traceparentOf(active.spanContext());
  const span = randomHex(8);
  const m = parent ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent) : null;
  if (m && m[1] !== "0".repeat(32)) return `00-${m[1]}-${span}-${m[2]}`;
  return `00-${randomHex(16)}-${span}-01`;
}
