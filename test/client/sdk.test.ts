import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Switchboard, SwitchboardError, type EventOut } from "../../src/client/index.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { freePort } from "../helpers/process.js";

let hub: TestHub;
let sb: Switchboard;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  sb = new Switchboard({ url: hub.url });
});
afterAll(() => hub.close());

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function caught(promise: Promise<unknown>): Promise<SwitchboardError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SwitchboardError);
  return error as SwitchboardError;
}

describe("publish and read", () => {
  it("publishes one event and answers { id, seq, topic }; get reads it back with every field", async () => {
    const result = await sb.publish("orders.created", { id: 1, total: 9.5 }, { key: "o-1", type: "order.created", attributes: { region: "eu" } });
    expect(Object.keys(result).sort()).toEqual(["id", "seq", "topic"]);
    expect(result.topic).toBe("orders.created");
    expect(result.id).toMatch(/^evt_/);
    const event = await sb.events.get(result.id);
    expect(event).toMatchObject({ id: result.id, seq: result.seq, topic: "orders.created", key: "o-1", type: "order.created", data: { id: 1, total: 9.5 } });
    expect(event.attributes).toEqual({ region: "eu" });
    expect(event.deliveries).toEqual([]);
  });

  it("keeps a client id and a time; a repeated Idempotency-Key stores nothing new", async () => {
    const first = await sb.publish("orders.paid", { n: 1 }, { idempotencyKey: "pay-1", time: new Date("2025-01-02T03:04:05Z") });
    const again = await sb.publish("orders.paid", { n: 1 }, { idempotencyKey: "pay-1" });
    expect(again).toEqual(first);
    expect((await sb.events.get(first.id)).time).toBe("2025-01-02T03:04:05.000Z");
    const withId = await sb.publish("orders.paid", { n: 2 }, { id: "my-id-1" });
    expect(withId.id).toBe("my-id-1");
  });

  it("publishBatch stores all the events in one request, a result each in order", async () => {
    const results = await sb.publishBatch([
      { topic: "batch.a", data: { n: 0 } },
      { topic: "batch.b", data: { n: 1 }, key: "k" },
    ]);
    expect(results.map((r) => r.topic)).toEqual(["batch.a", "batch.b"]);
    expect(results[1]!.seq).toBe(results[0]!.seq! + 1);
  });

  it("events.search reads every page (cursor paging), with data equality and a filter", async () => {
    const published = await sb.publishBatch(Array.from({ length: 7 }, (_, i) => ({ topic: "paging.x", data: { i, even: i % 2 === 0 } })));
    const all = await collect(sb.events.search({ topic: "paging.*", limit: 2 }));
    expect(all.map((e) => e.id)).toEqual(published.map((r) => r.id));
    const even = await collect(sb.events.search({ topic: "paging.x", limit: 1, data: { even: true } }));
    expect(even.map((e) => (e.data as { i: number }).i)).toEqual([0, 2, 4, 6]);
    const filtered = await collect(sb.events.search({ topic: ["paging.x"], filter: "data.i >= 5", order: "desc" }));
    expect(filtered.map((e: EventOut) => (e.data as { i: number }).i)).toEqual([6, 5]);
    const page = await sb.events.page({ topic: "paging.x", limit: 3 });
    expect(page.data).toHaveLength(3);
    expect(page.next_cursor).toEqual(expect.any(String));
  });
});

describe("errors", () => {
  it("carry the hub's code, status and details", async () => {
    const notFound = await caught(sb.events.get("evt_nope"));
    expect(notFound).toMatchObject({ code: "SB_EVENT_NOT_FOUND", status: 404 });
    expect(notFound.details).toContain("evt_nope");
    const badTime = await caught(collect(sb.events.search({ from: "not a time" })));
    expect(badTime).toMatchObject({ code: "SB_QUERY_INVALID_TIME", status: 400 });
    const badFilter = await caught(sb.events.page({ filter: "data.x ==" }));
    expect(badFilter.code).toBe("SB_FILTER_INVALID");
    const badTopic = await caught(sb.topics.create({ name: "" }));
    expect(badTopic).toMatchObject({ code: "SB_TOPIC_INVALID", status: 400 });
  });

  it("a hub that cannot be reached is SB_CLIENT_NETWORK with status 0", async () => {
    const down = new Switchboard({ url: `http://127.0.0.1:${await freePort()}` });
    expect(await caught(down.publish("t", {}))).toMatchObject({ code: "SB_CLIENT_NETWORK", status: 0 });
  });
});

describe("topics, subscriptions, deliveries, keys", () => {
  it("manages topics", async () => {
    const created = await sb.topics.create({ name: "crud.topic", description: "for the SDK test" });
    expect(created).toMatchObject({ name: "crud.topic", description: "for the SDK test", event_count: 0 });
    expect((await sb.topics.update("crud.topic", { description: "changed" })).description).toBe("changed");
    expect((await sb.topics.list()).map((t) => t.name)).toContain("crud.topic");
    expect((await sb.topics.get("crud.topic")).description).toBe("changed");
    await sb.topics.delete("crud.topic");
    expect((await caught(sb.topics.get("crud.topic"))).code).toBe("SB_TOPIC_NOT_FOUND");
  });

  it("manages subscriptions and reads their deliveries", async () => {
    const sub = await sb.subscriptions.create({ topic: "subs.*", url: "http://127.0.0.1:9/hook", active: false });
    expect(sub.secret).toMatch(/^whsec_/);
    expect(await sb.subscriptions.secret(sub.id)).toBe(sub.secret);
    expect((await sb.subscriptions.update(sub.id, { filter: "data.n > 1" })).filter).toBe("data.n > 1");
    expect((await sb.subscriptions.resume(sub.id)).active).toBe(true);
    expect((await sb.subscriptions.pause(sub.id)).active).toBe(false);
    expect((await sb.subscriptions.list()).map((s) => s.id)).toContain(sub.id);
    expect(await sb.subscriptions.retryDead(sub.id)).toEqual({ retried: 0 });
    expect(await sb.deliveries.replay(sub.id, { from: 0 })).toEqual({ replayed: 0 });
    expect(await collect(sb.deliveries.list({ subscription: sub.id }))).toEqual([]);
    expect((await caught(sb.deliveries.retry("dlv_nope"))).code).toBe("SB_DELIVERY_NOT_FOUND");
    await sb.subscriptions.delete(sub.id);
    expect((await caught(sb.subscriptions.get(sub.id))).code).toBe("SB_SUBSCRIPTION_NOT_FOUND");
  });

  it("manages API keys, and a key's token is the SDK's token", async () => {
    const other = await startTestHub();
    try {
      const admin = new Switchboard({ url: other.url });
      const key = await admin.keys.create({ name: "sdk", scopes: ["admin"] });
      expect(key.token).toEqual(expect.any(String));
      // Auth is on from the first key: the SDK without a token is refused, with one it is let in.
      expect((await caught(admin.keys.list())).code).toBe("SB_AUTH_REQUIRED");
      const withToken = new Switchboard({ url: other.url, token: key.token });
      expect((await withToken.keys.list()).map((k) => k.id)).toEqual([key.id]);
      const publisher = await withToken.keys.create({ scopes: ["publish:only.this"] });
      const limited = new Switchboard({ url: other.url, token: publisher.token });
      expect((await caught(limited.publish("not.this", {}))).code).toBe("SB_AUTH_FORBIDDEN");
      await withToken.keys.revoke(publisher.id);
      expect((await caught(limited.publish("only.this", {}))).code).toBe("SB_AUTH_INVALID");
    } finally {
      await other.close();
    }
  });
});
