import type { JsMsg } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { createTestStream, NATS_PORT, uniqueName, type TestStream } from "../helpers/nats.js";
import { createSubscription, FAST_RETRY, publish } from "../helpers/webhooks.js";
import { runDestinationConformance, type BrokerMessage } from "./conformance.js";
import { expectRefusedByApi } from "../helpers/destination-urls.js";

const text = (m: JsMsg) => new TextDecoder().decode(m.data);

function asMessage(m: JsMsg): BrokerMessage {
  const headers: Record<string, string> = {};
  for (const name of m.headers?.keys() ?? []) headers[name.toLowerCase()] = m.headers!.get(name);
  return { body: text(m), headers };
}

runDestinationConformance({
  kind: "nats",
  scheme: "nats",
  port: NATS_PORT,
  dropsDuplicates: true,
  outageError:
    /^(nats:\/\/127\.0\.0\.1:\d+ is not connected: (disconnected from |connection closed|CONNECTION_REFUSED: )|JetStream publish to subject \S+ failed: |timeout after \d+ ms waiting for the JetStream PubAck)/,
  async createSink() {
    const s = await createTestStream();
    return {
      url: (hostPort) => `nats://${hostPort}/${s.subject}`,
      messages: async () => (await s.messages()).map(asMessage),
      close: () => s.close(),
    };
  },
  unroutable: (hostPort) => ({
    url: `nats://${hostPort}/sbtest.${uniqueName("nostream")}`,
    error: /^no JetStream stream covers subject sbtest\.nostream_[0-9a-f]+ \(no responders\)$/,
  }),
});

describe("NATS JetStream destination", () => {
  let hub: TestHub;
  const streams: TestStream[] = [];
  beforeAll(async () => {
    hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) await s.close();
  });
  afterAll(() => hub?.close());

  it("sets Nats-Msg-Id to the delivery id and keeps the PubAck in the attempt log", async () => {
    const s = await createTestStream();
    streams.push(s);
    const topic = uniqueName("nats.ack");
    const sub = await createSubscription(hub.url, { topic, url: `nats://127.0.0.1:${NATS_PORT}/${s.subject}`, retry: FAST_RETRY });
    const [event] = await publish(hub.url, { topic, data: { x: 1 } });
    const [delivery] = await eventually("the delivery", async () => {
      const list = (await request(`${hub.url}/api/deliveries?subscription=${sub.id}`)).body.data;
      return list.length === 1 && list[0].status === "delivered" ? list : undefined;
    });
    const [m] = await s.messages();
    expect(m!.headers?.get("Nats-Msg-Id")).toBe(delivery.id);
    expect(m!.headers?.get("ce-id")).toBe(event!.id);
    const detail = await request(`${hub.url}/api/deliveries/${delivery.id}`);
    expect(JSON.parse(detail.body.attempts[0].response_excerpt)).toEqual({ stream: s.name, seq: 1, duplicate: false });
  });

  it("masks credentials in every GET; the masked form sent back keeps the stored credential, for that endpoint only", async () => {
    const s = await createTestStream();
    streams.push(s);
    const topic = uniqueName("nats.creds");
    const created = await createSubscription(hub.url, { topic, url: `nats://app:s3cret@127.0.0.1:${NATS_PORT}/${s.subject}` });
    const masked = `nats://app:****@127.0.0.1:${NATS_PORT}/${s.subject}`;
    expect(created.url).toBe(masked);
    expect((await request(`${hub.url}/api/subscriptions/${created.id}`)).body.url).toBe(masked);
    const list = await request(`${hub.url}/api/subscriptions`);
    expect(list.body.data.find((x: any) => x.id === created.id).url).toBe(masked);
    expect(list.text).not.toContain("s3cret");
    const send = (method: string, body: unknown) =>
      request(`${hub.url}/api/subscriptions/${created.id}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const stored = async () => (await hub.server.hub.store.subscriptions.get(created.id))!.url;
    const original = await stored();
    expect(original).toBe(`nats://app:s3cret@127.0.0.1:${NATS_PORT}/${s.subject}`);

    const patched = await send("PATCH", { url: masked });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.url).toBe(masked);
    expect(await stored()).toBe(original);
    // A full PUT of what GET returned, masked url and all.
    const read = (await request(`${hub.url}/api/subscriptions/${created.id}`)).body;
    const put = await send("PUT", { topic: read.topic, url: read.url, active: false });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ url: masked, active: false });
    expect(await stored()).toBe(original);

    // The credential is never carried to another host or subject.
    for (const elsewhere of [`nats://app:****@localhost:${NATS_PORT}/${s.subject}`, `nats://app:****@127.0.0.1:${NATS_PORT}/${s.subject}.other`]) {
      const moved = await send("PATCH", { url: elsewhere });
      expect(moved.status, elsewhere).toBe(400);
      expect(moved.body.code).toBe("SB_SUBSCRIPTION_INVALID");
      expect(moved.body.details).toMatch(/another endpoint than the stored nats:\/\/app:\*\*\*\*@/);
      expect(moved.text).not.toContain("s3cret");
    }
    expect(await stored()).toBe(original);
    // A new subscription has no stored credential to keep: the masked form stays a 400.
    const fresh = await request(`${hub.url}/api/subscriptions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic, url: masked }),
    });
    expect(fresh.status).toBe(400);
    expect(fresh.body.details).toMatch(/masked credential/);
    expect((await request(`${hub.url}/api/subscriptions/${created.id}`, { method: "DELETE" })).status).toBe(204);
  });

  it("refuses malformed nats urls and unknown schemes with a clear 400", async () => {
    const cases: Array<[string, RegExp]> = [
      [`nats://127.0.0.1:${NATS_PORT}/`, /needs a subject/],
      [`nats://127.0.0.1:${NATS_PORT}/orders.*`, /no wildcards/],
      [`nats://127.0.0.1:${NATS_PORT}/orders?x=1`, /no query/],
      ["kafka://broker:9092/orders", /scheme "kafka" is not supported; supported: http, https, nats, nats\+tls/],
    ];
    await expectRefusedByApi(hub.url, cases);
  });
});
