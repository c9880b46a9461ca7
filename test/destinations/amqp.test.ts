import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";
import type { ConsumeMessage } from "amqplib";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DestinationRouter } from "../../src/delivery/destinations/index.js";
import { createWebhookClient } from "../../src/delivery/webhooks/send-webhook.js";
import { AMQP_PORT, createTestExchange, headersOf, uniqueName, type TestExchange } from "../helpers/amqp.js";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { createSubscription, FAST_RETRY, publish } from "../helpers/webhooks.js";
import { runDestinationConformance } from "./conformance.js";
import { expectRefusedByApi } from "../helpers/destination-urls.js";
import { subscription } from "../helpers/subscription-fixture.js";

const asMessage = (m: ConsumeMessage) => ({ body: m.content.toString(), headers: headersOf(m) });
const urlOf = (hostPort: string, x: TestExchange, routingKey = x.bindingKey) =>
  `amqp://guest:guest@${hostPort}/?exchange=${x.exchange}&routing_key=${encodeURIComponent(routingKey)}`;

runDestinationConformance({
  kind: "amqp",
  scheme: "amqp",
  port: AMQP_PORT,
  // RabbitMQ stores a resend again; consumers drop it by message-id (the delivery id).
  dropsDuplicates: false,
  // Down: the connection lost or refused. In flight when it went: the confirm never came.
  outageError: new RegExp(
    [
      String.raw`^amqp://127\.0\.0\.1:\d+ is not connected: (Unexpected close|connect ECONNREFUSED 127\.0\.0\.1:\d+|Socket closed abruptly during opening handshake|still connecting after \d+ ms)$`,
      String.raw`^publish to exchange "sbtest\.x_[0-9a-f]+" \(routing key "rk_[0-9a-f]+"\) failed: no publisher confirm: the channel closed before it came$`,
      String.raw`^timeout after \d+ ms waiting for the publisher confirm on exchange "sbtest\.x_[0-9a-f]+"`,
    ].join("|"),
  ),
  async createSink() {
    const x = await createTestExchange();
    return { url: (hostPort) => urlOf(hostPort, x), messages: async () => x.messages().map(asMessage), close: () => x.close() };
  },
  unroutable: (hostPort) => {
    const key = uniqueName("nobody");
    return {
      url: `amqp://guest:guest@${hostPort}/?exchange=amq.direct&routing_key=${key}`,
      error: new RegExp(
        `^publish to exchange "amq\\.direct" \\(routing key "${key}"\\) failed: unroutable: the exchange routed it to no queue \\(basic\\.return 312 NO_ROUTE\\)$`,
      ),
    };
  },
});

/**
 * A proxy to RabbitMQ that can hold back what the broker sends (its confirms) and let it through later: a confirm
 * that is late, over a connection that stays up.
 */
async function startHoldingProxy(): Promise<{ port: number; hold(): void; release(): void; close(): Promise<void> }> {
  let holding = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(AMQP_PORT, "127.0.0.1");
    sockets.add(client).add(upstream);
    const drop = () => (client.destroy(), upstream.destroy());
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => (holding ? held.push(() => client.write(chunk)) : client.write(chunk)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hold: () => (holding = true),
    release() {
      holding = false;
      for (const write of held.splice(0)) write();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("RabbitMQ destination", () => {
  let hub: TestHub;
  const exchanges: TestExchange[] = [];
  const proxies: TcpProxy[] = [];
  const opened: Array<{ close(): Promise<void> }> = [];
  const direct = `127.0.0.1:${AMQP_PORT}`;
  beforeAll(async () => {
    hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  });
  afterEach(async () => {
    for (const x of exchanges.splice(0)) await x.close();
    for (const p of proxies.splice(0)) await p.close();
    for (const o of opened.splice(0)) await o.close();
  });
  afterAll(() => hub?.close());

  const exchange = async (options?: Parameters<typeof createTestExchange>[0]) => {
    const x = await createTestExchange(options);
    exchanges.push(x);
    return x;
  };
  const deliveriesOf = async (subscriptionId: string): Promise<any[]> =>
    (await request(`${hub.url}/api/deliveries?subscription=${subscriptionId}&limit=1000`)).body.data;
  const settled = (subscriptionId: string, count: number, status: string) =>
    eventually(
      `${count} ${status}`,
      async () => {
        const list = await deliveriesOf(subscriptionId);
        return list.length === count && list.every((d) => d.status === status) ? list : undefined;
      },
      20_000,
    );
  const attemptsOf = async (deliveryId: string): Promise<any[]> => (await request(`${hub.url}/api/deliveries/${deliveryId}`)).body.attempts;
  const received = (x: TestExchange, count: number) => eventually(`${count} messages`, () => (x.messages().length >= count ? x.messages() : undefined), 15_000);

  it("publishes persistent messages with message-id = delivery id and the content type; the confirm is the attempt's excerpt", async () => {
    const x = await exchange();
    const topic = uniqueName("amqp.confirm");
    const sub = await createSubscription(hub.url, { topic, url: urlOf(direct, x), retry: FAST_RETRY });
    const [event] = await publish(hub.url, { topic, data: { x: 1 } });
    const [delivery] = await settled(sub.id, 1, "delivered");
    const [m] = await received(x, 1);
    expect(m!.properties).toMatchObject({ messageId: delivery.id, deliveryMode: 2, contentType: "application/json" });
    expect(m!.properties.headers).toMatchObject({ "webhook-id": delivery.id, "ce-id": event!.id });
    expect(m!.properties.headers).not.toHaveProperty("content-type");
    expect(m!.fields).toMatchObject({ exchange: x.exchange, routingKey: x.bindingKey });
    const [attempt] = await attemptsOf(delivery.id);
    expect(JSON.parse(attempt.response_excerpt)).toEqual({ confirmed: true, exchange: x.exchange, routing_key: x.bindingKey });
  });

  it("routes by the event's key with routing_key={key}, and by its topic with {topic}", async () => {
    const x = await exchange({ type: "topic", bindingKey: "#" });
    const topic = uniqueName("amqp.rk");
    const byKey = await createSubscription(hub.url, { topic, url: urlOf(direct, x, "{key}"), retry: FAST_RETRY });
    const byTopic = await createSubscription(hub.url, { topic, url: urlOf(direct, x, "{topic}"), retry: FAST_RETRY });
    await publish(hub.url, [
      { topic, key: "customer.7", data: { n: 1 } },
      { topic, data: { n: 2 } },
    ]);
    await settled(byKey.id, 2, "delivered");
    await settled(byTopic.id, 2, "delivered");
    const keys = (await received(x, 4)).map((m) => m.fields.routingKey).sort();
    expect(keys).toEqual(["", "customer.7", topic, topic].sort());
  });

  it("takes the vhost %2F (the default one) and fails attempts on a vhost that does not exist", async () => {
    const x = await exchange();
    const topic = uniqueName("amqp.vhost");
    const ok = await createSubscription(hub.url, {
      topic,
      url: `amqp://guest:guest@${direct}/%2F?exchange=${x.exchange}&routing_key=${x.bindingKey}`,
      retry: FAST_RETRY,
    });
    const missing = await createSubscription(hub.url, { topic, url: `amqp://guest:guest@${direct}/sbtest-novhost?exchange=${x.exchange}`, retry: FAST_RETRY });
    await publish(hub.url, { topic, data: { v: 1 } });
    await settled(ok.id, 1, "delivered");
    const [dead] = await settled(missing.id, 1, "dead");
    for (const a of await attemptsOf(dead.id)) {
      expect(a.error).toBe(
        `amqp://127.0.0.1:${AMQP_PORT}/sbtest-novhost is not connected: the broker refused to open vhost "sbtest-novhost": it does not exist, or the user may not use it`,
      );
    }
  });

  it("bad credentials: failed attempts naming ACCESS_REFUSED, then dead", async () => {
    const x = await exchange();
    const topic = uniqueName("amqp.creds");
    const sub = await createSubscription(hub.url, {
      topic,
      url: `amqp://guest:wrong@${direct}/?exchange=${x.exchange}&routing_key=${x.bindingKey}`,
      retry: FAST_RETRY,
    });
    await publish(hub.url, { topic, data: { c: 1 } });
    const [dead] = await settled(sub.id, 1, "dead");
    const attempts = await attemptsOf(dead.id);
    expect(attempts).toHaveLength(3);
    for (const a of attempts)
      expect(a.error).toMatch(
        new RegExp(`^amqp://127\\.0\\.0\\.1:${AMQP_PORT} is not connected: .*403 \\(ACCESS-REFUSED\\).*ACCESS_REFUSED - Login was refused`),
      );
    expect(x.messages()).toHaveLength(0);
    const health = (await request(`${hub.url}/ready`)).body.destinations;
    expect(JSON.stringify(health)).not.toContain("wrong");
  });

  it("a missing exchange fails its own attempts (404), while the shared connection carries on for the others", async () => {
    const x = await exchange();
    const p = await startTcpProxy(AMQP_PORT);
    proxies.push(p);
    const hostPort = `127.0.0.1:${p.port}`;
    const topic = uniqueName("amqp.404");
    const missing = uniqueName("sbtest.missing");
    const good = await createSubscription(hub.url, { topic, url: urlOf(hostPort, x), retry: FAST_RETRY });
    const bad = await createSubscription(hub.url, { topic, url: `amqp://guest:guest@${hostPort}/?exchange=${missing}&routing_key=r`, retry: FAST_RETRY });
    await publish(
      hub.url,
      Array.from({ length: 10 }, (_, n) => ({ topic, data: { n } })),
    );
    const delivered = await settled(good.id, 10, "delivered");
    const dead = await settled(bad.id, 10, "dead");
    // Its channel of its own: the channel the broker closed for the missing exchange took none of these down.
    expect(delivered.map((d) => d.attempt_count)).toEqual(Array.from({ length: 10 }, () => 1));
    for (const a of await attemptsOf(dead[0].id)) {
      expect(a.error).toBe(
        `publish to exchange "${missing}" (routing key "r") failed: the broker closed the channel: 404 (NOT-FOUND) with message "NOT_FOUND - no exchange '${missing}' in vhost '/'"`,
      );
    }
    // After the 404s, the same connection still delivers to the exchange that exists.
    await publish(hub.url, { topic, data: { n: 10 } });
    await settled(good.id, 11, "delivered");
    expect((await received(x, 11)).map((m) => (JSON.parse(m.content.toString()) as { n: number }).n).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 11 }, (_, n) => n),
    );
    expect(p.accepted).toBe(1);
  });

  it("an exchange declared after the 404s: the next attempt opens a new channel and is confirmed", async () => {
    const topic = uniqueName("amqp.later");
    const name = uniqueName("sbtest.later");
    const sub = await createSubscription(hub.url, {
      topic,
      url: `amqp://guest:guest@${direct}/?exchange=${name}&routing_key=r`,
      retry: { schedule: [0, ...Array.from({ length: 40 }, () => 0.25)] },
    });
    await publish(hub.url, { topic, data: { late: true } });
    const [retrying] = await eventually("a failed attempt", async () => {
      const list = await deliveriesOf(sub.id);
      return list.length === 1 && list[0].attempt_count >= 2 ? list : undefined;
    });
    const x = await createTestExchange({ bindingKey: "r" });
    exchanges.push(x);
    // Publishes to `name` now reach the queue of `x`: an exchange-to-exchange binding.
    await x.channel.assertExchange(name, "direct", { durable: false, autoDelete: true });
    await x.channel.bindExchange(x.exchange, name, "r");
    await settled(sub.id, 1, "delivered");
    expect((await received(x, 1)).map((m) => m.properties.messageId)).toEqual([retrying.id]);
    const attempts = await attemptsOf(retrying.id);
    expect(attempts.at(-1).error).toBeNull();
    expect(attempts[0].error).toMatch(/failed: the broker closed the channel: 404 \(NOT-FOUND\)/);
  });

  it("a confirm later than timeout_ms fails the attempt; the resend carries the same message-id", async () => {
    const x = await exchange();
    const p = await startHoldingProxy();
    opened.push(p);
    const topic = uniqueName("amqp.late");
    const sub = await createSubscription(hub.url, { topic, url: urlOf(`127.0.0.1:${p.port}`, x), timeout_ms: 300, retry: { schedule: [0, 0.5, 0.5, 0.5] } });
    await publish(hub.url, { topic, data: { warmup: true } });
    await settled(sub.id, 1, "delivered");

    p.hold();
    await publish(hub.url, { topic, data: { late: true } });
    const late = await eventually("a timed-out attempt", async () =>
      (await deliveriesOf(sub.id)).find((d) => d.status !== "delivered" && d.attempt_count >= 1),
    );
    p.release();
    await settled(sub.id, 2, "delivered");
    const attempts = await attemptsOf(late.id);
    expect(attempts[0].error).toMatch(
      new RegExp(`^timeout after \\d+ ms waiting for the publisher confirm on exchange "${x.exchange}" \\(routing key "${x.bindingKey}"\\)$`),
    );
    expect(attempts.at(-1).error).toBeNull();
    // The broker had routed the first one: at least once, and every copy has the delivery id as its message-id.
    const copies = (await received(x, 3)).filter((m) => JSON.parse(m.content.toString()).late === true);
    expect(copies.length).toBeGreaterThanOrEqual(2);
    for (const m of copies) expect(m.properties.messageId).toBe(late.id);
  });

  it("the hub closes while the broker holds back its close-ok: the connection is dropped, the close does not hang", async () => {
    const x = await exchange();
    const p = await startHoldingProxy();
    opened.push(p);
    const own = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
    try {
      const topic = uniqueName("amqp.shutdown");
      const sub = await createSubscription(own.url, { topic, url: urlOf(`127.0.0.1:${p.port}`, x) });
      await publish(own.url, { topic, data: { s: 1 } });
      await eventually("delivered", async () =>
        (await request(`${own.url}/api/deliveries?subscription=${sub.id}`)).body.data[0]?.status === "delivered" ? true : undefined,
      );
      p.hold();
    } finally {
      const started = Date.now();
      await own.close();
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });

  it("masks the password in every GET", async () => {
    const x = await exchange();
    const created = await createSubscription(hub.url, {
      topic: uniqueName("amqp.mask"),
      url: `amqp://guest:s3cret@${direct}/?exchange=${x.exchange}&routing_key=a`,
    });
    const masked = `amqp://guest:****@${direct}/?exchange=${x.exchange}&routing_key=a`;
    expect(created.url).toBe(masked);
    expect((await request(`${hub.url}/api/subscriptions/${created.id}`)).body.url).toBe(masked);
    expect((await request(`${hub.url}/api/subscriptions`)).text).not.toContain("s3cret");
    expect((await request(`${hub.url}/api/subscriptions/${created.id}`, { method: "DELETE" })).status).toBe(204);
  });

  it("refuses malformed amqp urls with a 400 naming the problem", async () => {
    const cases: Array<[string, RegExp]> = [
      [`amqp://${direct}/`, /needs exchange=<name>, or a routing_key/],
      [`amqp://${direct}/a/b?exchange=x`, /write a \/ in the vhost as %2F/],
      [`amqp://${direct}/?exchange=x&routingkey=y`, /parameter "routingkey" is unknown/],
      [`amqp://${direct}/?exchange=x&routing_key={subject}`, /not a placeholder; the placeholders are \{key\} and \{topic\}/],
    ];
    await expectRefusedByApi(hub.url, cases);
  });
});

describe("RabbitMQ destination: the check when a subscription starts", () => {
  const opened: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  /** A router whose log lines are kept, and a subscription to `url` opened on it. */
  const start = (url: string) => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const webhookClient = createWebhookClient({ allowPrivate: true });
    const router = new DestinationRouter({ webhookClient, userAgent: "test", allowPrivate: true, log: pino({ level: "info" }, sink) });
    opened.push(webhookClient, router);
    const sub = subscription(url);
    router.open(sub);
    return { router, lines, sub };
  };

  it("warns when the exchange does not exist", async () => {
    const name = uniqueName("sbtest.nowhere");
    const { lines, sub } = start(`amqp://guest:guest@127.0.0.1:${AMQP_PORT}/?exchange=${name}&routing_key=r`);
    const line = await eventually("the warning", () => lines.find((l) => l.msg === "destination check"));
    expect(line).toMatchObject({ level: 40, subscriptionId: sub.id, kind: "amqp", endpoint: `amqp://127.0.0.1:${AMQP_PORT}` });
    expect(line.warning).toBe(
      `exchange "${name}" does not exist in vhost "/" on amqp://127.0.0.1:${AMQP_PORT}: deliveries will fail until it is declared ` +
        `(404 (NOT-FOUND) with message "NOT_FOUND - no exchange '${name}' in vhost '/'")`,
    );
  });

  it("no warning when it exists, nor for the default exchange", async () => {
    const x = await createTestExchange();
    opened.push(x);
    for (const url of [
      `amqp://guest:guest@127.0.0.1:${AMQP_PORT}/?exchange=${x.exchange}`,
      `amqp://guest:guest@127.0.0.1:${AMQP_PORT}/?routing_key=${x.queue}`,
    ]) {
      const { router, lines } = start(url);
      await eventually("connected", () => (router.health()[0]?.state === "connected" ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(lines.filter((l) => l.msg === "destination check")).toEqual([]);
    }
  });
});
