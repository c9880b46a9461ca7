import type { RedisClientType } from "@redis/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisDriver } from "../../src/delivery/destinations/index.js";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import {
  createTestRedisStream,
  redisClient,
  REDIS_PORT,
  subscribeTestChannel,
  uniqueRedisName,
  type StreamEntry,
  type TestRedisStream,
} from "../helpers/redis.js";
import { createSubscription, FAST_RETRY, publish, publishMany } from "../helpers/webhooks.js";
import { runDestinationConformance, type BrokerMessage } from "./conformance.js";
import { expectRefusedByApi } from "../helpers/destination-urls.js";

const direct = `127.0.0.1:${REDIS_PORT}`;
const streamUrl = (hostPort: string, key: string, db = 0) => `redis://${hostPort}/${db}?stream=${encodeURIComponent(key)}`;

/** A stream entry as the conformance suite reads messages: `body`, and every other field a header. */
function asMessage(entry: StreamEntry): BrokerMessage {
  const headers: Record<string, string> = {};
  let body = "";
  for (const [name, value] of entry.fields) {
    if (name === "body") body = value;
    else headers[name.toLowerCase()] = value;
  }
  return { body, headers };
}

/** A channel message as the conformance suite reads messages: `{"headers":…,"body":…}` split apart. */
function asChannelMessage(text: string): BrokerMessage {
  const { headers, body } = JSON.parse(text) as { headers: Record<string, string>; body: unknown };
  return { body: JSON.stringify(body), headers };
}

let admin: RedisClientType;
/** A key holding a string: XADD to it is refused (WRONGTYPE), a stream's unroutable target. */
const wrongType = uniqueRedisName("wrongtype");
/** An ACL user allowed no channel: its PUBLISH is refused (NOPERM), a channel's unroutable target. */
const noChannelsUser = uniqueRedisName("nochannels").replace(/:/g, "_");

beforeAll(async () => {
  admin = await redisClient();
  await admin.set(wrongType, "not a stream");
  await admin.sendCommand(["ACL", "SETUSER", noChannelsUser, "on", ">pw", "resetchannels", "-@all", "+publish", "+ping"]);
});
afterAll(async () => {
  await admin.del(wrongType);
  await admin.sendCommand(["ACL", "DELUSER", noChannelsUser]);
  await admin.close();
});

runDestinationConformance({
  kind: "redis",
  scheme: "redis",
  port: REDIS_PORT,
  dropsDuplicates: false,
  outageError:
    /^(redis:\/\/127\.0\.0\.1:\d+ is not connected: (Socket closed unexpectedly|connect ECONNREFUSED |still connecting after )|XADD to stream \S+ failed: Socket closed unexpectedly)/,
  async createSink() {
    const s = await createTestRedisStream();
    return {
      url: (hostPort) => streamUrl(hostPort, s.key),
      messages: async () => (await s.entries()).map(asMessage),
      close: () => s.close(),
    };
  },
  unroutable: (hostPort) => ({
    url: streamUrl(hostPort, wrongType),
    error: /^XADD to stream sbtest:wrongtype_[0-9a-f]+ failed: WRONGTYPE Operation against a key holding the wrong kind of value$/,
  }),
});

// The same suite over PUBLISH: the subscriber listens on its own connection, straight to Redis, so only the hub's
// side is cut in the outage test.
runDestinationConformance({
  kind: "redis",
  scheme: "redis",
  port: REDIS_PORT,
  dropsDuplicates: false,
  outageError:
    /^(redis:\/\/127\.0\.0\.1:\d+ is not connected: (Socket closed unexpectedly|connect ECONNREFUSED |still connecting after )|PUBLISH to channel \S+ failed: Socket closed unexpectedly)/,
  async createSink() {
    const subscriber = await subscribeTestChannel();
    return {
      url: (hostPort) => `redis://${hostPort}/0?channel=${encodeURIComponent(subscriber.channel)}`,
      messages: async () => subscriber.received.map(asChannelMessage),
      close: () => subscriber.close(),
    };
  },
  unroutable: (hostPort) => ({
    url: `redis://${noChannelsUser}:pw@${hostPort}/0?channel=${uniqueRedisName("forbidden")}`,
    error: /^PUBLISH to channel sbtest:forbidden_[0-9a-f]+ failed: NOPERM .*channel/,
  }),
});

describe("Redis destination", () => {
  let hub: TestHub;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(() => hub?.close());

  const stream = async (db = 0): Promise<TestRedisStream> => {
    const s = await createTestRedisStream(db);
    cleanups.push(() => s.close());
    return s;
  };
  const deliveries = async (subscriptionId: string): Promise<any[]> =>
    (await request(`${hub.url}/api/deliveries?subscription=${subscriptionId}&limit=1000`)).body.data;
  const settled = (subscriptionId: string, count: number, status: string) =>
    eventually(
      `${count} ${status}`,
      async () => {
        const list = await deliveries(subscriptionId);
        return list.length === count && list.every((d) => d.status === status) ? list : undefined;
      },
      20_000,
    );
  const attemptsOf = async (deliveryId: string): Promise<any[]> => (await request(`${hub.url}/api/deliveries/${deliveryId}`)).body.attempts;

  it("XADDs the headers as fields, body last, and keeps the entry id as the excerpt", async () => {
    const s = await stream();
    const topic = uniqueRedisName("layout");
    const sub = await createSubscription(hub.url, { topic, url: streamUrl(direct, s.key), headers: { "x-tenant": "acme" }, retry: FAST_RETRY });
    const [event] = await publish(hub.url, { topic, type: "order.created", data: { x: 1 }, attributes: { region: "eu" } });
    const [delivery] = await settled(sub.id, 1, "delivered");
    const [entry] = await s.entries();
    expect(entry!.fields.map(([name]) => name)).toEqual([
      "x-tenant",
      "ce-region",
      "content-type",
      "webhook-id",
      "ce-specversion",
      "ce-id",
      "ce-source",
      "ce-type",
      "ce-time",
      "body",
    ]);
    expect(Object.fromEntries(entry!.fields)).toMatchObject({ "webhook-id": delivery.id, "ce-id": event!.id, "ce-type": "order.created", body: '{"x":1}' });
    const [attempt] = await attemptsOf(delivery.id);
    expect(JSON.parse(attempt.response_excerpt)).toEqual({ stream: s.key, id: entry!.id });
  });

  it("trims the stream with MAXLEN ~ N when maxlen is given", async () => {
    const s = await stream();
    const topic = uniqueRedisName("maxlen");
    const sub = await createSubscription(hub.url, { topic, url: `${streamUrl(direct, s.key)}&maxlen=10`, max_in_flight: 16 });
    // Approximate trimming drops whole nodes (100 entries each by default): far more than that must be sent.
    await publishMany(hub.url, topic, 400);
    await settled(sub.id, 400, "delivered");
    const length = await s.client.xLen(s.key);
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(250);
  });

  it("selects the database in the url", async () => {
    const s = await stream(7);
    const topic = uniqueRedisName("db");
    const sub = await createSubscription(hub.url, { topic, url: streamUrl(direct, s.key, 7) });
    await publish(hub.url, { topic, data: { db: 7 } });
    await settled(sub.id, 1, "delivered");
    expect(await s.entries()).toHaveLength(1);
    expect(await admin.exists(s.key)).toBe(0);
  });

  it("PUBLISHes {headers, body} to a channel, the receiver count as the excerpt", async () => {
    const subscriber = await subscribeTestChannel();
    cleanups.push(() => subscriber.close());
    const topic = uniqueRedisName("channel");
    const sub = await createSubscription(hub.url, { topic, url: `redis://${direct}/0?channel=${subscriber.channel}`, retry: FAST_RETRY });
    const events = await publish(
      hub.url,
      [1, 2, 3].map((n) => ({ topic, key: "k", data: { n } })),
    );
    const list = await settled(sub.id, 3, "delivered");
    const received = await eventually("3 messages", () => (subscriber.received.length >= 3 ? subscriber.received : undefined));
    const messages = received.map((m) => JSON.parse(m) as { headers: Record<string, string>; body: { n: number } });
    expect(messages.map((m) => m.body.n)).toEqual([1, 2, 3]);
    const idByEvent = new Map(list.map((d) => [d.event_id, d.id]));
    for (const [i, m] of messages.entries()) {
      expect(m.headers).toMatchObject({
        "ce-id": events[i]!.id,
        "webhook-id": idByEvent.get(events[i]!.id),
        "ce-specversion": "1.0",
        "content-type": "application/json",
      });
    }
    const [attempt] = await attemptsOf(list[0].id);
    expect(JSON.parse(attempt.response_excerpt)).toEqual({ channel: subscriber.channel, receivers: 1 });
  });

  it("a channel without subscribers: delivered, with 0 receivers (not durable)", async () => {
    const topic = uniqueRedisName("nobody");
    const channel = uniqueRedisName("nobody");
    const sub = await createSubscription(hub.url, { topic, url: `redis://${direct}/0?channel=${channel}` });
    await publish(hub.url, { topic, data: { lost: true } });
    const [delivery] = await settled(sub.id, 1, "delivered");
    const [attempt] = await attemptsOf(delivery.id);
    expect(JSON.parse(attempt.response_excerpt)).toEqual({ channel, receivers: 0 });
  });

  it("bad credentials: failed attempts naming the refusal, never the password, then dead", async () => {
    const topic = uniqueRedisName("badauth");
    const user = uniqueRedisName("nouser").replace(/:/g, "_");
    const sub = await createSubscription(hub.url, {
      topic,
      url: `redis://${user}:n0tTheP4ss@${direct}/0?stream=${uniqueRedisName("badauth")}`,
      retry: FAST_RETRY,
    });
    expect(sub.url).toBe(`redis://${user}:****@${direct}/0?stream=${new URL(sub.url).searchParams.get("stream")}`);
    await publish(hub.url, { topic, data: { x: 1 } });
    const [dead] = await settled(sub.id, 1, "dead");
    const attempts = await attemptsOf(dead.id);
    expect(attempts).toHaveLength(3);
    for (const a of attempts) expect(a.error).toMatch(/^redis:\/\/127\.0\.0\.1:6379 is not connected: WRONGPASS invalid username-password pair/);
    const ready = await request(`${hub.url}/ready`);
    expect(ready.text).not.toContain("n0tTheP4ss");
    expect(JSON.stringify(attempts)).not.toContain("n0tTheP4ss");
  });

  it("authenticates as an ACL user given in the url, and masks its password in every GET", async () => {
    const user = uniqueRedisName("user").replace(/:/g, "_");
    const s = await stream();
    await admin.sendCommand(["ACL", "SETUSER", user, "on", ">s3cretPw", "resetkeys", `~${s.key}`, "resetchannels", "-@all", "+xadd", "+ping"]);
    cleanups.push(() => admin.sendCommand(["ACL", "DELUSER", user]));
    const topic = uniqueRedisName("acl");
    const sub = await createSubscription(hub.url, { topic, url: streamUrl(`${user}:s3cretPw@${direct}`, s.key) });
    const masked = streamUrl(`${user}:****@${direct}`, s.key);
    expect(sub.url).toBe(masked);
    expect((await request(`${hub.url}/api/subscriptions/${sub.id}`)).body.url).toBe(masked);
    expect((await request(`${hub.url}/api/subscriptions`)).text).not.toContain("s3cretPw");
    await publish(hub.url, { topic, data: { acl: true } });
    await settled(sub.id, 1, "delivered");
    expect(await s.entries()).toHaveLength(1);
    expect((await request(`${hub.url}/api/subscriptions/${sub.id}`, { method: "DELETE" })).status).toBe(204);
  });

  it("a database the server does not have: failed attempts saying so", async () => {
    const topic = uniqueRedisName("nodb");
    const sub = await createSubscription(hub.url, { topic, url: streamUrl(direct, uniqueRedisName("nodb"), 999), retry: FAST_RETRY });
    await publish(hub.url, { topic, data: { x: 1 } });
    const [dead] = await settled(sub.id, 1, "dead");
    for (const a of await attemptsOf(dead.id)) expect(a.error).toMatch(/^redis:\/\/127\.0\.0\.1:6379\/999 is not connected: ERR DB index is out of range/);
  });

  it("check warns about a key that is not a stream and a channel nobody listens to", async () => {
    const listener = { disconnected: () => undefined, reconnected: () => undefined, closed: () => undefined };
    const target = (query: string) => redisDriver.parseUrl(new URL(`redis://${direct}/0?${query}`));
    const connection = await redisDriver.connect(target(`stream=${wrongType}`), listener);
    try {
      expect(await redisDriver.check!(connection, target(`stream=${encodeURIComponent(wrongType)}`))).toMatch(
        /^key sbtest:wrongtype_\w+ on redis:\/\/127\.0\.0\.1:6379 holds a string, not a stream/,
      );
      expect(await redisDriver.check!(connection, target(`stream=${uniqueRedisName("absent")}`))).toBeUndefined();
      expect(await redisDriver.check!(connection, target(`channel=${uniqueRedisName("nobody")}`))).toMatch(
        /^no subscriber on channel sbtest:nobody_\w+ .*is lost$/,
      );
      const subscriber = await subscribeTestChannel();
      cleanups.push(() => subscriber.close());
      expect(await redisDriver.check!(connection, target(`channel=${subscriber.channel}`))).toBeUndefined();
    } finally {
      await connection.close();
    }
  });

  it("rediss speaks TLS: a plain server never completes the handshake", async () => {
    const listener = { disconnected: () => undefined, reconnected: () => undefined, closed: () => undefined };
    const target = redisDriver.parseUrl(new URL(`rediss://${direct}/0?stream=${uniqueRedisName("tls")}`));
    await expect(redisDriver.connect(target, listener)).rejects.toThrow(/^Connection timeout$/);
  });

  it("refuses malformed redis urls with a 400 naming the problem", async () => {
    const cases: Array<[string, RegExp]> = [
      [`redis://${direct}/0`, /needs \?stream=S \(XADD\) or \?channel=C \(PUBLISH\)/],
      [`redis://${direct}/0?stream=a&channel=b`, /not both/],
      [`redis://${direct}/db1?stream=a`, /path must be the database number/],
      [`redis://${direct}/0?stream=a&maxlen=ten`, /maxlen must be a positive whole number, got "ten"/],
    ];
    await expectRefusedByApi(hub.url, cases);
  });
});
