/**
 * An incoming `traceparent` on POST with no OpenTelemetry SDK installed: it becomes the event's trace context, so
 * every delivery continues the caller's trace; a malformed one is ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, getJson } from "../helpers/webhooks.js";

const PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

describe("traceparent on POST, without an SDK", () => {
  let hub: TestHub;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    hub = await startTestHub({ allowPrivateTargets: true });
    await createSubscription(hub.url, { topic: "traced.*", url: receiver.url });
  });
  afterAll(async () => {
    await hub.close();
    await receiver.close();
  });

  it("becomes the event's traceparent (single and batch), continued by the webhook", async () => {
    const one = await postJson(`${hub.url}/api/events`, { topic: "traced.one", data: {} }, { traceparent: PARENT });
    const batch = await postJson(
      `${hub.url}/api/events`,
      [
        { topic: "traced.two", data: {} },
        { topic: "traced.three", data: {} },
      ],
      { traceparent: PARENT },
    );
    expect([one.status, batch.status]).toEqual([201, 201]);
    for (const id of [one.body.id, ...batch.body.map((r: { id: string }) => r.id)] as string[]) {
      expect((await getJson(`${hub.url}/api/events/${id}`)).attributes).toEqual({ traceparent: PARENT });
    }
    const [request] = await receiver.waitFor(1, 10_000, (r) => r.body.includes('"traced.one"') || r.headers["ce-id"] === one.body.id);
    expect(request!.headers["traceparent"]).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  });

  it("keeps an event's own traceparent attribute, and ignores a malformed header", async () => {
    const own = "00-11111111111111111111111111111111-2222222222222222-01";
    const kept = await postJson(`${hub.url}/api/events`, { topic: "traced.own", data: {}, attributes: { traceparent: own } }, { traceparent: PARENT });
    expect((await getJson(`${hub.url}/api/events/${kept.body.id as string}`)).attributes).toEqual({ traceparent: own });
    for (const bad of ["garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"]) {
      const reply = await postJson(`${hub.url}/api/events`, { topic: "traced.bad", data: {} }, { traceparent: bad });
      expect(reply.status).toBe(201);
      expect((await getJson(`${hub.url}/api/events/${reply.body.id as string}`)).attributes).toEqual({});
    }
  });
});
