import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook } from "../../src/client/index.js";
import { postJson, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, publish } from "../helpers/webhooks.js";

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

const rotate = (id: string, body: unknown = {}) => postJson(`${hub.url}/api/subscriptions/${id}/secret/rotate`, body);
const headersOf = (r: { headers: Record<string, unknown> }) => r.headers as Record<string, string>;

describe("POST /api/subscriptions/:id/secret/rotate", () => {
  it("signs with both secrets during the grace, then with the new one alone once rotated without grace", async () => {
    const sub = await createSubscription(hub.url, { topic: "rotation.a", url: receiver.url });
    const old = sub.secret as string;
    const rotated = await rotate(sub.id, { grace_s: 3600 });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(3_500_000);

    await publish(hub.url, { topic: "rotation.a", data: { n: 1 } });
    const [during] = await receiver.waitFor(1);
    expect(headersOf(during!)["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(verifyWebhook(fresh, headersOf(during!), during!.body)).toBe(true);
    expect(verifyWebhook(old, headersOf(during!), during!.body)).toBe(true);

    // Without grace the previous secret (the one just rotated out) stops at once.
    const again = await rotate(sub.id, { grace_s: 0 });
    expect(again.body.previous_secret_expires_at).toBeNull();
    await publish(hub.url, { topic: "rotation.a", data: { n: 2 } });
    const [, after] = await receiver.waitFor(2);
    expect(headersOf(after!)["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(verifyWebhook(again.body.secret, headersOf(after!), after!.body)).toBe(true);
    expect(verifyWebhook(fresh, headersOf(after!), after!.body)).toBe(false);
    expect(verifyWebhook(old, headersOf(after!), after!.body)).toBe(false);
  });

  it("refuses a bad grace (400), an unknown subscription (404) and an in-process handler (409)", async () => {
    const sub = await createSubscription(hub.url, { topic: "rotation.b", url: receiver.url });
    for (const body of [{ grace_s: -1 }, { grace_s: 604_801 }, { grace_s: 1.5 }, { grace: 10 }]) {
      const refused = await rotate(sub.id, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.code).toBe("SB_SUBSCRIPTION_INVALID");
    }
    expect((await rotate("sub_missing")).status).toBe(404);
    const handler = hub.server.hub.handle("rotation.c", () => {}, { name: "rotation-handler" });
    await hub.server.hub.start();
    await handler.ready;
    const list = (await (await fetch(`${hub.url}/api/subscriptions`)).json()) as { data: Array<{ id: string; kind: string }> };
    const fn = list.data.find((s) => s.kind === "function")!;
    expect((await rotate(fn.id)).body.code).toBe("SB_SUBSCRIPTION_READ_ONLY");
  });
});
