import { describe, expect, it } from "vitest";
import type { DeliveryOutcome } from "./destination.js";
import { deliveryVerdict, disableReason, EVENT_GONE, type DeliveryVerdict } from "./outcome-rules.js";

const NOW = 1_000_000;
const HOUR = 3_600_000;
/** Retry after 5 s, then 60 s; the third failure is the last. */
const SCHEDULE = [0, 5, 60];
/** No jitter: the schedule's delays exactly. */
const noJitter = () => 0.5;

function outcome(status: number | null, extra: Partial<DeliveryOutcome> = {}): DeliveryOutcome {
  const ok = status !== null && status >= 200 && status < 300;
  return { ok, status, latencyMs: 12, responseExcerpt: status === null ? null : "", error: null, gone: status === 410, ...extra };
}
const timeout = outcome(null, { error: "timeout after 10000 ms" });
const refused = outcome(null, { error: "connect ECONNREFUSED 127.0.0.1:9" });

describe("deliveryVerdict", () => {
  const table: [string, DeliveryOutcome, number, boolean, DeliveryVerdict][] = [
    ["2xx: delivered", outcome(204), 1, true, { status: "delivered", nextAttemptAt: null }],
    ["2xx on the last attempt: delivered", outcome(200), 3, true, { status: "delivered", nextAttemptAt: null }],
    ["4xx: retried like any failure", outcome(400), 1, true, { status: "retrying", nextAttemptAt: NOW + 5_000 }],
    ["410: retried (the subscription is disabled apart)", outcome(410), 1, true, { status: "retrying", nextAttemptAt: NOW + 5_000 }],
    ["5xx: retried after the schedule's next delay", outcome(503), 2, true, { status: "retrying", nextAttemptAt: NOW + 60_000 }],
    ["Retry-After later than the schedule wins", outcome(429, { retryAfterMs: 30_000 }), 1, true, { status: "retrying", nextAttemptAt: NOW + 30_000 }],
    ["Retry-After sooner than the schedule loses", outcome(503, { retryAfterMs: 1_000 }), 1, true, { status: "retrying", nextAttemptAt: NOW + 5_000 }],
    ["timeout: retried", timeout, 1, true, { status: "retrying", nextAttemptAt: NOW + 5_000 }],
    ["network error: retried", refused, 1, true, { status: "retrying", nextAttemptAt: NOW + 5_000 }],
    ["schedule spent: dead", outcome(500), 3, true, { status: "dead", nextAttemptAt: null }],
    ["event no longer stored: dead at once", EVENT_GONE, 1, false, { status: "dead", nextAttemptAt: null }],
  ];
  it.each(table)("%s", (_name, result, attempts, eventStored, expected) => {
    expect(deliveryVerdict(SCHEDULE, attempts, result, eventStored, NOW, noJitter)).toEqual(expected);
  });
});

describe("disableReason", () => {
  const table: [string, DeliveryOutcome, number | null, string | undefined][] = [
    ["410 disables at once", outcome(410), null, "the endpoint answered 410 Gone"],
    ["a first failure does not", outcome(500), null, undefined],
    ["failing for less than the limit does not", timeout, NOW - 23 * HOUR, undefined],
    ["failing for the limit disables", refused, NOW - 24 * HOUR, "every attempt failed for 24 h"],
    ["4xx counts like any failure", outcome(404), NOW - 30 * HOUR, "every attempt failed for 30 h"],
  ];
  it.each(table)("%s", (_name, result, failingSince, expected) => {
    expect(disableReason(result, { failingSince }, NOW, 24 * HOUR)).toBe(expected);
  });
});
