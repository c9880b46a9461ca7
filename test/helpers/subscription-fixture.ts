import type { Subscription } from "../../src/store/store.js";
import { uniqueName } from "./nats.js";

/** A subscription as the store holds it, sending to `url`; for tests that drive a destination router directly. */
export function subscription(url: string, id = uniqueName("sub")): Subscription {
  return {
    id,
    topic: "t",
    url,
    filter: null,
    headers: {},
    secret: "whsec_x",
    active: true,
    disabledReason: null,
    ordering: "none",
    retrySchedule: [0],
    timeoutMs: 2_000,
    maxInFlight: 1,
    rateLimit: null,
    body: "data",
    cursorSeq: 0,
    failingSince: null,
    priority: 0,
    createdAt: 0,
    updatedAt: 0,
  };
}
