import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../src/client/index.js";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription } from "../helpers/webhooks.js";

let hub: TestHub;
let receiver: Receiver;
beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await hub?.close();
});

const test = (id: string) => postJson(`${hub.url}/api/subscriptions/${id}/test`, {});

describe("POST /api/subscriptions/:id/test", () => {
  it("sends one signed switchboard.test event now, answers the outcome, and stores nothing", async () => {
    const sub = await createSubscription(hub.url, { topic: "orders.created", url: receiver.url });
    receiver.respond({ status: 200, body: "thanks" });
    const sent = await test(sub.id);
    expect(sent.status, sent.text).toBe(200);
    expect(sent.body).toMatchObject({ ok: true, status: 200, response_excerpt: "thanks", error: null });
    expect(sent.body.event_id).toMatch(/^evt_/);
    expect(sent.body.delivery_id).toMatch(/^dlv_/);

    const [req] = await receiver.waitFor(1);
    expect(req!.headers["webhook-id"]).toBe(sent.body.delivery_id);
    expect(req!.headers["ce-type"]).toBe("switchboard.test");
    expect(req!.headers["ce-id"]).toBe(sent.body.event_id);
    expect(JSON.parse(req!.body)).toEqual({ test: true, subscription_id: sub.id });
    expect(verifyWebhook(sub.secret, req!.headers as Record<string, string>, req!.body)).toBe(true);

    // Nothing stored: no event, no delivery; the subscription is as it was.
    expect((await request(`${hub.url}/api/deliveries?subscription=${sub.id}`)).body.data).toEqual([]);
    expect((await request(`${hub.url}/api/events/${sent.body.event_id}`)).status).toBe(404);
    expect((await request(`${hub.url}/api/subscriptions/${sub.id}`)).body.failing_since).toBeNull();
  });

  it("answers ok false with the receiver's status, or the error when nothing answered", async () => {
    const sub = await createSubscription(hub.url, { topic: "orders.*", url: receiver.url });
    receiver.respond({ status: 500 });
    expect((await test(sub.id)).body).toMatchObject({ ok: false, status: 500 });
    expect((await request(`${hub.url}/api/subscriptions/${sub.id}`)).body.failing_since).toBeNull();

    const nobody = await createSubscription(hub.url, { topic: "orders.*", url: "http://127.0.0.1:1/hook" });
    const refused = await test(nobody.id);
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ ok: false, status: null });
    expect(refused.body.error).toContain("ECONNREFUSED");
  });

  it("refuses an in-process handler (409) and an unknown subscription (404)", async () => {
    const handler = hub.server.hub.handle("orders.created", () => {}, { name: "test-send-handler" });
    await hub.server.hub.start();
    await handler.ready;
    const fn = (await request(`${hub.url}/api/subscriptions`)).body.data.find((s: { kind: string }) => s.kind === "function");
    const refused = await test(fn.id);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("SB_SUBSCRIPTION_READ_ONLY");
    expect((await test("sub_missing")).status).toBe(404);
  });
});
