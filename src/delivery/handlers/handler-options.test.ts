import { describe, expect, it } from "vitest";
import { checkHandler } from "./handler-options.js";

const noop = () => {};

describe("checkHandler", () => {
  it("turns maxErrors and an array backoff into a retry schedule: no wait first, then the waits, the last repeated", () => {
    expect(checkHandler("orders.*", noop, { name: "a", maxErrors: 5, backoff: [1, 5, 30] }).retrySchedule).toEqual([0, 1, 5, 30, 30]);
    expect(checkHandler("t", noop, { name: "a", maxErrors: 2, backoff: [1, 5, 30] }).retrySchedule).toEqual([0, 1]);
    expect(checkHandler("t", noop, { name: "a", maxErrors: 1 }).retrySchedule).toEqual([0]);
  });

  it("gives a function backoff a schedule of zeros (its own waits come with each failure) and keeps the function", () => {
    const backoff = (attempt: number) => attempt * 100;
    const spec = checkHandler("t", noop, { name: "a", maxErrors: 3, backoff });
    expect(spec.retrySchedule).toEqual([0, 0, 0]);
    expect(spec.backoff).toBe(backoff);
  });

  it("fills in the defaults and the subscription terms", () => {
    expect(checkHandler("orders.created", noop, { name: "send-receipt" })).toEqual({
      name: "send-receipt",
      url: "function:send-receipt",
      topic: "orders.created",
      filter: null,
      retrySchedule: [0, 5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200],
      backoff: undefined,
      priority: 0,
      maxInFlight: 1,
      ordering: "none",
      start: "now",
    });
  });

  it("takes a start time as a Date, epoch ms or ISO text", () => {
    const ms = Date.UTC(2026, 0, 2, 3, 4, 5);
    for (const start of [new Date(ms), ms, "2026-01-02T03:04:05Z"]) expect(checkHandler("t", noop, { name: "a", start }).start).toBe(ms);
    expect(checkHandler("t", noop, { name: "a", start: "beginning" }).start).toBe("beginning");
  });
});
