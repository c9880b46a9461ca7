import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { MQTT_PORT, startPrivateBroker, subscribeTestTopic, uniqueTopic, type PrivateBroker, type TestTopic } from "../helpers/mqtt.js";
import { createSubscription, FAST_RETRY, publish } from "../helpers/webhooks.js";
import { runDestinationConformance } from "./conformance.js";
import { expectRefusedByApi } from "../helpers/destination-urls.js";

/** A fresh hub topic name (hub topics take no `/`, unlike MQTT ones). */
const hubTopic = (prefix: string) => uniqueTopic(prefix).replace("sbtest/", "");

runDestinationConformance({
  kind: "mqtt",
  scheme: "mqtt",
  port: MQTT_PORT,
  // MQTT has no server-side deduplication: a resend after a lost PUBACK arrives again (same webhook-id).
  dropsDuplicates: false,
  outageError:
    /^(mqtt:\/\/127\.0\.0\.1:\d+ is not connected: |connection lost \(.+\) before the PUBACK on topic sbtest\/|timeout after \d+ ms waiting for the PUBACK on topic sbtest\/)/,
  async createSink() {
    const t = await subscribeTestTopic({ topic: uniqueTopic("conformance") });
    return {
      url: (hostPort) => `mqtt://${hostPort}/${t.topic}`,
      messages: async () => t.received.map((m) => ({ body: m.body, headers: m.properties })),
      close: () => t.close(),
    };
  },
  // Mosquitto lets no client publish under $SYS: an MQTT 5 PUBACK with reason 0x87.
  unroutable: (hostPort) => {
    const topic = `$SYS/${uniqueTopic("denied").replace("sbtest/", "sbtest_")}`;
    return {
      url: `mqtt://${hostPort}/${topic}`,
      error: /^the broker refused the message on topic \$SYS\/sbtest_denied_[0-9a-f]+: PUBACK 0x87 Not authorized$/,
    };
  },
});

describe("MQTT destination", () => {
  let hub: TestHub;
  const topics: TestTopic[] = [];
  beforeAll(async () => {
    hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  });
  afterEach(async () => {
    for (const t of topics.splice(0)) await t.close();
  });
  afterAll(() => hub?.close());

  const subscribe = async (options: Parameters<typeof subscribeTestTopic>[0] = {}) => {
    const t = await subscribeTestTopic(options);
    topics.push(t);
    return t;
  };
  const onlyDelivery = (subscriptionId: string, status: string) =>
    eventually(`one ${status} delivery`, async () => {
      const list = (await request(`${hub.url}/api/deliveries?subscription=${subscriptionId}`)).body.data;
      return list.length === 1 && list[0].status === status ? list[0] : undefined;
    });
  const attemptsOf = async (deliveryId: string): Promise<any[]> => (await request(`${hub.url}/api/deliveries/${deliveryId}`)).body.attempts;

  it("publishes at QoS 1 with webhook-id as a user property, and keeps the PUBACK reason in the attempt log", async () => {
    const t = await subscribe();
    const topic = hubTopic("mqtt.ack");
    const sub = await createSubscription(hub.url, { topic, url: `mqtt://127.0.0.1:${MQTT_PORT}/${t.topic}`, retry: FAST_RETRY });
    const [event] = await publish(hub.url, { topic, data: { x: 1 } });
    const delivery = await onlyDelivery(sub.id, "delivered");
    const m = await eventually("the message", () => t.received[0]);
    expect(m.packet.qos).toBe(1);
    expect(m.packet.retain).toBe(false);
    expect(m.packet.properties).toMatchObject({ contentType: "application/json", payloadFormatIndicator: true });
    expect(m.properties["webhook-id"]).toBe(delivery.id);
    expect(m.properties["ce-id"]).toBe(event!.id);
    expect(JSON.parse(m.body)).toEqual({ x: 1 });
    const [attempt] = await attemptsOf(delivery.id);
    expect(JSON.parse(attempt.response_excerpt)).toEqual({ reason_code: 0, reason: "Success" });
    expect(attempt.error).toBeNull();
  });

  it("a topic nobody subscribes to is delivered (the broker took it), the PUBACK saying no matching subscribers", async () => {
    const topic = hubTopic("mqtt.nobody");
    const sub = await createSubscription(hub.url, { topic, url: `mqtt://127.0.0.1:${MQTT_PORT}/${uniqueTopic("nobody")}` });
    await publish(hub.url, { topic, data: {} });
    const delivery = await onlyDelivery(sub.id, "delivered");
    expect(JSON.parse((await attemptsOf(delivery.id))[0].response_excerpt)).toEqual({ reason_code: 16, reason: "No matching subscribers" });
  });

  it("takes the topic from the path, percent-decoded, slashes and all", async () => {
    const t = await subscribe({ topic: `${uniqueTopic("mqtt.path")}/with space/é` });
    const [first, ...rest] = t.topic.split("/");
    const path = `${first}%2F${rest.map(encodeURIComponent).join("/")}`;
    const topic = hubTopic("mqtt.path");
    const sub = await createSubscription(hub.url, { topic, url: `mqtt://127.0.0.1:${MQTT_PORT}/${path}` });
    await publish(hub.url, { topic, data: { ok: true } });
    await onlyDelivery(sub.id, "delivered");
    expect((await eventually("the message", () => t.received[0])).packet.topic).toBe(t.topic);
  });

  describe("with credentials (a Mosquitto of its own, no anonymous clients)", () => {
    let broker: PrivateBroker;
    beforeAll(async () => {
      broker = await startPrivateBroker({ auth: true });
    });
    afterAll(() => broker?.stop());

    it("delivers with the right ones, and masks them in every GET", async () => {
      const t = await subscribe({ port: broker.port, client: { username: broker.user, password: broker.password } });
      const topic = hubTopic("mqtt.creds");
      const url = `mqtt://${broker.user}:${broker.password}@127.0.0.1:${broker.port}/${t.topic}`;
      const created = await createSubscription(hub.url, { topic, url });
      const masked = `mqtt://${broker.user}:****@127.0.0.1:${broker.port}/${t.topic}`;
      expect(created.url).toBe(masked);
      expect((await request(`${hub.url}/api/subscriptions/${created.id}`)).body.url).toBe(masked);
      const list = await request(`${hub.url}/api/subscriptions`);
      expect(list.text).not.toContain(broker.password);
      await publish(hub.url, { topic, data: { secret: false } });
      await onlyDelivery(created.id, "delivered");
      expect(await eventually("the message", () => t.received[0])).toMatchObject({ body: '{"secret":false}' });

      // PUT back what GET showed (masked url, ordering changed): the stored password stays, so deliveries still
      // get through a broker that refuses anonymous clients.
      const put = await request(`${hub.url}/api/subscriptions/${created.id}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ topic, url: masked, ordering: "key" }),
      });
      expect(put.status, put.text).toBe(200);
      expect(put.body).toMatchObject({ url: masked, ordering: "key" });
      await publish(hub.url, { topic, data: { after: "put" } });
      const deliveries = await eventually("two delivered", async () => {
        const list = (await request(`${hub.url}/api/deliveries?subscription=${created.id}`)).body.data;
        return list.length === 2 && list.every((d: any) => d.status === "delivered") ? list : undefined;
      });
      expect(deliveries).toHaveLength(2);
      expect(await eventually("the second message", () => t.received[1])).toMatchObject({ body: '{"after":"put"}' });
      expect((await request(`${hub.url}/api/subscriptions/${created.id}`, { method: "DELETE" })).status).toBe(204);
    });

    it("bad credentials: failed attempts saying the CONNACK refused them, then dead; the password shown nowhere", async () => {
      const topic = hubTopic("mqtt.badcreds");
      const wrong = "not-the-password";
      const sub = await createSubscription(hub.url, {
        topic,
        url: `mqtt://${broker.user}:${wrong}@127.0.0.1:${broker.port}/${uniqueTopic("x")}`,
        retry: FAST_RETRY,
      });
      await publish(hub.url, { topic, data: { x: 1 } });
      const dead = await onlyDelivery(sub.id, "dead");
      expect(dead.attempt_count).toBe(3);
      const attempts = await attemptsOf(dead.id);
      expect(attempts).toHaveLength(3);
      for (const a of attempts) {
        expect(a.error).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+ is not connected: the broker refused the connection: Not authorized \(CONNACK 0x87\)$/);
      }
      const ready = await request(`${hub.url}/ready`);
      expect(ready.body.destinations).toContainEqual({
        kind: "mqtt",
        endpoint: `mqtt://127.0.0.1:${broker.port}`,
        state: expect.stringMatching(/^(disconnected|connecting)$/),
        subscriptions: 1,
        error: "the broker refused the connection: Not authorized (CONNACK 0x87)",
      });
      expect(ready.text).not.toContain(wrong);
      expect(JSON.stringify(attempts)).not.toContain(wrong);
      expect((await request(`${hub.url}/api/subscriptions/${sub.id}`, { method: "DELETE" })).status).toBe(204);
    });
  });

  it("mqtts: speaks TLS and verifies the broker's certificate (a self-signed one gives failed attempts, then dead)", async () => {
    const broker = await startPrivateBroker({ tls: true });
    try {
      const topic = hubTopic("mqtt.tls");
      const sub = await createSubscription(hub.url, { topic, url: `mqtts://127.0.0.1:${broker.port}/${uniqueTopic("tls")}`, retry: FAST_RETRY });
      await publish(hub.url, { topic, data: {} });
      const dead = await onlyDelivery(sub.id, "dead");
      for (const a of await attemptsOf(dead.id)) expect(a.error).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+ is not connected: .*self[- ]signed certificate/);
      expect((await request(`${hub.url}/api/subscriptions/${sub.id}`, { method: "DELETE" })).status).toBe(204);
    } finally {
      await broker.stop();
    }
  });

  it("refuses malformed mqtt urls with a clear 400", async () => {
    const cases: Array<[string, RegExp]> = [
      [`mqtt://127.0.0.1:${MQTT_PORT}/`, /needs a topic/],
      [`mqtt://127.0.0.1:${MQTT_PORT}/orders/+/created`, /no wildcards \(\+ #\)/],
      [`mqtt://127.0.0.1:${MQTT_PORT}/orders/%23`, /no wildcards \(\+ #\)/],
      [`mqtt://127.0.0.1:${MQTT_PORT}/orders/#`, /no wildcards \(\+ #\)/],
      [`mqtt://127.0.0.1:${MQTT_PORT}/orders?qos=2`, /no query/],
      [`mqtts://app:****@127.0.0.1/orders`, /masked credential/],
    ];
    await expectRefusedByApi(hub.url, cases);
  });
});
