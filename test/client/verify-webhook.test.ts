import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Switchboard, verifyWebhook } from "../../src/client/index.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type ReceivedRequest, type Receiver } from "../helpers/receiver.js";

let hub: TestHub;
let receiver: Receiver;
let secret: string;
let webhook: ReceivedRequest;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  receiver = await startReceiver();
  const sb = new Switchboard({ url: hub.url });
  secret = (await sb.subscriptions.create({ topic: "signed.*", url: receiver.url })).secret!;
  await sb.publish("signed.order", { total: 12.5, note: "é ✓" });
  [webhook] = await receiver.waitFor(1);
});
afterAll(async () => {
  await hub.close();
  await receiver.close();
});

describe("verifyWebhook on a webhook the hub delivered", () => {
  it("accepts it: node:http headers, fetch Headers, body as text or bytes", () => {
    expect(verifyWebhook(secret, webhook.headers, webhook.body)).toBe(true);
    expect(verifyWebhook(secret, new Headers(webhook.headers as Record<string, string>), webhook.body)).toBe(true);
    expect(verifyWebhook(secret, webhook.headers, Buffer.from(webhook.body))).toBe(true);
  });

  it("refuses a changed body, another secret, missing headers, and a timestamp out of tolerance", () => {
    expect(verifyWebhook(secret, webhook.headers, webhook.body.replace("12.5", "125"))).toBe(false);
    expect(verifyWebhook("whsec_" + Buffer.alloc(24, 7).toString("base64"), webhook.headers, webhook.body)).toBe(false);
    expect(verifyWebhook("not base64!", webhook.headers, webhook.body)).toBe(false);
    const { ["webhook-signature"]: _, ...unsigned } = webhook.headers;
    expect(verifyWebhook(secret, unsigned, webhook.body)).toBe(false);
    const sentAt = Number(webhook.headers["webhook-timestamp"]) * 1000;
    expect(verifyWebhook(secret, webhook.headers, webhook.body, { now: sentAt + 299_000 })).toBe(true);
    expect(verifyWebhook(secret, webhook.headers, webhook.body, { now: sentAt + 301_000 })).toBe(false);
    expect(verifyWebhook(secret, webhook.headers, webhook.body, { now: sentAt + 3_600_000, toleranceSeconds: 7200 })).toBe(true);
  });
});
