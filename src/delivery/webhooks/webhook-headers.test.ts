import { describe, expect, it } from "vitest";
import type { StoredEvent, Subscription } from "../../store/store.js";
import { verifySignature } from "./sign.js";
import { headerValue, traceparentFor, webhookHeaders } from "./webhook-headers.js";

describe("headerValue", () => {
  it.each([
    ["order.created", "order.created"],
    ["50%", "50%25"],
    ["café", "caf%C3%A9"],
    ["a\r\nb", "a%0D%0Ab"],
    ["\ud800", "%EF%BF%BD"],
  ])("%j → %s", (value, expected) => {
    expect(headerValue(value)).toBe(expected);
  });
});

describe("traceparentFor", () => {
  const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  it("continues the event's trace with a new span", () => {
    expect(traceparentFor(parent)).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(traceparentFor(parent)).not.toBe(traceparentFor(parent));
  });
  it.each([undefined, "garbage", `00-${"0".repeat(32)}-b7ad6b7169203331-01`])("starts a new trace for %j", (value) => {
    expect(traceparentFor(value)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceparentFor(value)).not.toContain("0".repeat(32));
  });
});

describe("webhookHeaders", () => {
  it("signs the body with the delivery id and the attempt's time, beside the subscription's own headers", () => {
    const sub = { secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers: { "x-tenant": "t1" } } as unknown as Subscription;
    const event = { id: "evt_1", topic: "orders", source: null, type: null, subject: "o/1", time: 0, attributes: {} } as unknown as StoredEvent;
    const h = webhookHeaders(sub, "dlv_1", event, "{}", 1_700_000_000_500, "switchboard/test");
    expect(h).toMatchObject({
      "x-tenant": "t1",
      "webhook-id": "dlv_1",
      "webhook-timestamp": "1700000000",
      "ce-source": "/switchboard/topics/orders",
      "ce-type": "orders",
      "ce-subject": "o/1",
    });
    expect(verifySignature(sub.secret, "dlv_1", 1_700_000_000, "{}", h["webhook-signature"]!, 1_700_000_000)).toBe(true);
  });
});
