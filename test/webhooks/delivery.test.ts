import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, eventIdOf, expectedSignature, FAST_RETRY, getJson, publish } from "../helpers/webhooks.js";

let hub: TestHub;
let api: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  api = `${hub.url}/api`;
});
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});
afterAll(() => hub?.close());

/** A fresh receiver per test, closed after it. */
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

/** The delivery with its attempts, once it has `status`. */
function deliveryWithStatus(id: string, status: string, timeoutMs = 10_000): Promise<any> {
  return eventually(
    `delivery ${id} to be ${status}`,
    async () => {
      const reply = await request(`${api}/deliveries/${id}`);
      return reply.status === 200 && reply.body.status === status ? reply.body : undefined;
    },
    timeoutMs,
  );
}

describe("what a receiver gets", () => {
  it("a body exactly as posted, a Standard Webhooks signature it can verify, CloudEvents headers, traceparent", async () => {
    const r = await receiver();
    const topic = "wh.sign";
    const sub = await createSubscription(hub.url, { topic, url: r.url, headers: { "X-Tenant": "acme", authorization: "Bearer t0k" } });
    const raw = `{"topic":"${topic}","type":"order.created","source":"/shop","subject":"orders/1","data":{"b": 1,  "a":[1, 2.50, "é\\u00e9"], "z":null},"attributes":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}`;
    const [event] = await publish(hub.url, raw);
    const [req] = await r.waitFor(1);

    expect(req!.method).toBe("POST");
    expect(req!.path).toBe("/hook");
    // The data as posted: number spelling and escapes kept, only whitespace between tokens dropped (docs/events.md).
    expect(req!.body).toBe(`{"b":1,"a":[1,2.50,"é\\u00e9"],"z":null}`);

    const h = req!.headers;
    expect(h["webhook-id"]).toMatch(/^dlv_/);
    expect(h["webhook-timestamp"]).toMatch(/^\d+$/);
    expect(Math.abs(Number(h["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(300);
    expect(h["webhook-signature"]).toBe(expectedSignature(sub.secret, req!));

    expect(h["content-type"]).toBe("application/json");
    expect(h["user-agent"]).toMatch(/^switchboard\//);
    expect(h["ce-specversion"]).toBe("1.0");
    expect(h["ce-id"]).toBe(event!.id);
    expect(h["ce-type"]).toBe("order.created");
    expect(h["ce-source"]).toBe("/shop");
    expect(h["ce-subject"]).toBe("orders/1");
    expect(h["ce-time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // The event's trace, continued with a new span.
    expect(h["traceparent"]).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(h["traceparent"]).not.toContain("b7ad6b7169203331");
    expect(h["x-tenant"]).toBe("acme");
    expect(h["authorization"]).toBe("Bearer t0k");
  });

  it("without a type or source: ce-type is the topic, traceparent a fresh valid one", async () => {
    const r = await receiver();
    const topic = "wh.plain";
    const sub = await createSubscription(hub.url, { topic, url: r.url });
    const [event] = await publish(hub.url, { topic, data: [1, 2, 3] });
    const [req] = await r.waitFor(1);
    expect(req!.body).toBe("[1,2,3]");
    expect(req!.headers["ce-id"]).toBe(event!.id);
    expect(req!.headers["ce-type"]).toBe(topic);
    expect(String(req!.headers["ce-source"]).length).toBeGreaterThan(0);
    expect(req!.headers["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(req!.headers["traceparent"]).not.toMatch(/^00-0{32}-/);
    expect(req!.headers["webhook-signature"]).toBe(expectedSignature(sub.secret, req!));
  });

  it('body "envelope" sends the envelope, signed over those bytes', async () => {
    const r = await receiver();
    const topic = "wh.envelope";
    const sub = await createSubscription(hub.url, { topic, url: r.url, body: "envelope" });
    const [event] = await publish(hub.url, { topic, key: "k1", data: { n: 1 }, attributes: { region: "eu" } });
    const [req] = await r.waitFor(1);
    const envelope = JSON.parse(req!.body);
    expect(envelope).toMatchObject({ id: event!.id, topic, key: "k1", data: { n: 1 }, attributes: { region: "eu" } });
    expect(req!.headers["webhook-signature"]).toBe(expectedSignature(sub.secret, req!));
  });

  it("a subscription's own secret signs", async () => {
    const r = await receiver();
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const topic = "wh.ownsecret";
    await createSubscription(hub.url, { topic, url: r.url, secret });
    await publish(hub.url, { topic, data: { s: 1 } });
    const [req] = await r.waitFor(1);
    expect(req!.headers["webhook-signature"]).toBe(expectedSignature(secret, req!));
  });
});

describe("retries", () => {
  it("retries until success with one webhook-id across all attempts", async () => {
    const r = await receiver((_req, i) => ({ status: i < 2 ? 500 : 200 }));
    const topic = "wh.retry";
    const sub = await createSubscription(hub.url, { topic, url: r.url, retry: FAST_RETRY });
    const [event] = await publish(hub.url, { topic, data: { r: 1 } });
    const reqs = await r.waitFor(3);
    expect(new Set(reqs.map((q) => q.headers["webhook-id"])).size).toBe(1);
    expect(reqs.every((q) => eventIdOf(q) === event!.id)).toBe(true);
    for (const q of reqs) expect(q.headers["webhook-signature"]).toBe(expectedSignature(sub.secret, q));

    const id = String(reqs[0]!.headers["webhook-id"]);
    const delivered = await deliveryWithStatus(id, "delivered");
    expect(delivered.attempts.map((a: any) => a.status_code)).toEqual([500, 500, 200]);
    expect(delivered.delivered_at).not.toBeNull();
  });

  it("is dead after the schedule runs out: attempts recorded, delivery.dead published", async () => {
    const r = await receiver({ status: 500, body: "kaput: database on fire" });
    const topic = "wh.dead";
    const sub = await createSubscription(hub.url, { topic, url: r.url, retry: FAST_RETRY });
    const [event] = await publish(hub.url, { topic, data: { d: 1 } });
    const reqs = await r.waitFor(3);
    const id = String(reqs[0]!.headers["webhook-id"]);
    const dead = await deliveryWithStatus(id, "dead");
    expect(dead).toMatchObject({ subscription_id: sub.id, event_id: event!.id, attempt_count: 3, last_status: 500, next_attempt_at: null });
    expect(dead.attempts).toHaveLength(3);
    for (const a of dead.attempts) expect(a).toMatchObject({ status_code: 500, response_excerpt: "kaput: database on fire" });

    const listed = await getJson(`${api}/deliveries?status=dead&subscription=${sub.id}`);
    expect(listed.data.map((d: any) => d.id)).toEqual([id]);

    const stored = await getJson(`${api}/events/${encodeURIComponent(event!.id)}`);
    expect(stored.deliveries).toHaveLength(1);
    expect(stored.deliveries[0]).toMatchObject({ id, status: "dead" });
    expect(stored.deliveries[0].attempts.map((a: any) => a.status_code)).toEqual([500, 500, 500]);

    // No more attempts after death.
    expect(r.requests).toHaveLength(3);

    const announced = await eventually("a switchboard.delivery.dead event", async () => {
      const page = await getJson(`${api}/events?topic=switchboard.delivery.dead`);
      return page.data.find((e: any) => e.data.delivery_id === id);
    });
    expect(announced.data).toMatchObject({ subscription_id: sub.id, event_id: event!.id, attempts: 3, last_status: 500 });
  });

  it("records a timeout as an attempt without a status", async () => {
    const r = await receiver("timeout");
    const topic = "wh.timeout";
    await createSubscription(hub.url, { topic, url: r.url, retry: { schedule: [0] }, timeout_ms: 200 });
    await publish(hub.url, { topic, data: { t: 1 } });
    const [req] = await r.waitFor(1);
    const dead = await deliveryWithStatus(String(req!.headers["webhook-id"]), "dead");
    expect(dead.attempts).toHaveLength(1);
    expect(dead.attempts[0]).toMatchObject({ status_code: null, response_excerpt: null });
    expect(dead.attempts[0].error).toMatch(/timeout/);
  });

  it("keeps at most 4 KiB of a large response body", async () => {
    const r = await receiver({ status: 500, body: "x".repeat(100_000) });
    const topic = "wh.bigbody";
    await createSubscription(hub.url, { topic, url: r.url, retry: { schedule: [0] } });
    await publish(hub.url, { topic, data: { big: 1 } });
    const [req] = await r.waitFor(1);
    const dead = await deliveryWithStatus(String(req!.headers["webhook-id"]), "dead");
    expect(dead.attempts[0].status_code).toBe(500);
    expect(dead.attempts[0].response_excerpt.length).toBeGreaterThan(0);
    expect(dead.attempts[0].response_excerpt.length).toBeLessThanOrEqual(4096);
  });

  it("POST /api/deliveries/:id/retry re-sends a dead one (202) with the same webhook-id; 409 while open", async () => {
    const r = await receiver({ status: 500 });
    const topic = "wh.manual";
    await createSubscription(hub.url, { topic, url: r.url, retry: { schedule: [0, 30] } });
    const [event] = await publish(hub.url, { topic, data: { m: 1 } });
    const [first] = await r.waitFor(1);
    const id = String(first!.headers["webhook-id"]);
    // Waiting 30 s for its second attempt: retrying, so a manual retry is refused.
    await deliveryWithStatus(id, "retrying");
    const busy = await postJson(`${api}/deliveries/${id}/retry`, {});
    expect(busy.status, busy.text).toBe(409);
    expect(busy.body.code).toBe("SB_DELIVERY_IN_PROGRESS");

    // A dead one comes back.
    const topic2 = "wh.manual2";
    await createSubscription(hub.url, { topic: topic2, url: r.url, retry: { schedule: [0] } });
    const [event2] = await publish(hub.url, { topic: topic2, data: { m: 2 } });
    const [req2] = await r.waitFor(1, 10_000, (q) => eventIdOf(q) === event2!.id);
    const id2 = String(req2!.headers["webhook-id"]);
    await deliveryWithStatus(id2, "dead");
    r.respond({ status: 204 });
    const retried = await postJson(`${api}/deliveries/${id2}/retry`, {});
    expect(retried.status, retried.text).toBe(202);
    expect(retried.body.id).toBe(id2);
    const again = await r.waitFor(2, 10_000, (q) => eventIdOf(q) === event2!.id);
    expect(again[1]!.headers["webhook-id"]).toBe(id2);
    const delivered = await deliveryWithStatus(id2, "delivered");
    expect(delivered.attempts.map((a: any) => a.status_code)).toEqual([500, 204]);
    expect(event).toBeDefined();
  });

  it("POST /api/subscriptions/:id/retry retries every dead delivery", async () => {
    const r = await receiver({ status: 503 });
    const topic = "wh.retryall";
    const sub = await createSubscription(hub.url, { topic, url: r.url, retry: { schedule: [0] } });
    const events = await publish(
      hub.url,
      [1, 2, 3].map((n) => ({ topic, data: { n } })),
    );
    await r.waitFor(3);
    await eventually("3 dead deliveries", async () => {
      const page = await getJson(`${api}/deliveries?status=dead&subscription=${sub.id}`);
      return page.data.length === 3 ? true : undefined;
    });
    r.respond({ status: 200 });
    const reply = await postJson(`${api}/subscriptions/${sub.id}/retry`, {});
    expect(reply.status, reply.text).toBe(202);
    expect(reply.body).toEqual({ retried: 3 });
    const all = await r.waitFor(6);
    expect(new Set(all.slice(3).map(eventIdOf))).toEqual(new Set(events.map((e) => e.id)));
    // Each retry carries the webhook-id of its first round.
    for (const e of events) {
      const ids = all.filter((q) => eventIdOf(q) === e.id).map((q) => q.headers["webhook-id"]);
      expect(ids).toHaveLength(2);
      expect(ids[0]).toBe(ids[1]);
    }
    await eventually("no dead deliveries", async () => {
      const page = await getJson(`${api}/deliveries?status=dead&subscription=${sub.id}`);
      return page.data.length === 0 ? true : undefined;
    });
  });

  it("POST /api/subscriptions/:id/replay delivers stored events in [from, to) again with new webhook-ids", async () => {
    const r = await receiver();
    const topic = "wh.replay";
    const sub = await createSubscription(hub.url, { topic, url: r.url });
    const early = await publish(
      hub.url,
      [1, 2].map((n) => ({ topic, data: { n } })),
    );
    await r.waitFor(2);
    await new Promise((res) => setTimeout(res, 20));
    const from = new Date().toISOString();
    await new Promise((res) => setTimeout(res, 20));
    const middle = await publish(
      hub.url,
      [3, 4, 5].map((n) => ({ topic, data: { n } })),
    );
    await r.waitFor(5);
    await new Promise((res) => setTimeout(res, 20));
    const to = new Date().toISOString();
    await new Promise((res) => setTimeout(res, 20));
    await publish(hub.url, { topic, data: { n: 6 } });
    const first = await r.waitFor(6);

    const reply = await postJson(`${api}/subscriptions/${sub.id}/replay`, { from, to });
    expect(reply.status, reply.text).toBe(202);
    expect(reply.body).toEqual({ replayed: 3 });
    const all = await r.waitFor(9);
    const replayed = all.slice(6);
    expect(replayed.map(eventIdOf).sort()).toEqual(middle.map((e) => e.id).sort());
    const firstIds = new Set(first.map((q) => q.headers["webhook-id"]));
    for (const q of replayed) expect(firstIds.has(q.headers["webhook-id"])).toBe(false);
    expect(early).toHaveLength(2);

    const bad = await postJson(`${api}/subscriptions/${sub.id}/replay`, { from: "yesterday-ish" });
    expect(bad.status).toBe(400);
  });
});

describe("what a receiver can ask for", () => {
  it("410 Gone disables the subscription and publishes switchboard.subscription.disabled", async () => {
    const r = await receiver({ status: 410 });
    const topic = "wh.gone";
    const sub = await createSubscription(hub.url, { topic, url: r.url, retry: FAST_RETRY });
    await publish(hub.url, { topic, data: { g: 1 } });
    await r.waitFor(1);
    const disabled = await eventually("the subscription to be disabled", async () => {
      const s = await getJson(`${api}/subscriptions/${sub.id}`);
      return s.active === false ? s : undefined;
    });
    expect(disabled.disabled_reason).toMatch(/410/);
    const announced = await eventually("a switchboard.subscription.disabled event", async () => {
      const page = await getJson(`${api}/events?topic=switchboard.subscription.disabled`);
      return page.data.find((e: any) => e.data.subscription_id === sub.id);
    });
    expect(announced.data.reason).toMatch(/410/);

    // Disabled: later events are not sent.
    r.respond({ status: 200 });
    const [second] = await publish(hub.url, { topic, data: { g: 2 } });
    await new Promise((res) => setTimeout(res, 300));
    expect(r.requests).toHaveLength(1);

    // Resumed: the refused delivery is sent again (same webhook-id) and the later event follows.
    const resumed = await postJson(`${api}/subscriptions/${sub.id}/resume`, {});
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ active: true, disabled_reason: null });
    const firstEvent = eventIdOf(r.requests[0]!);
    const again = await r.waitFor(2, 10_000, (q) => eventIdOf(q) === firstEvent);
    expect(again[1]!.headers["webhook-id"]).toBe(again[0]!.headers["webhook-id"]);
    await r.waitFor(1, 10_000, (q) => eventIdOf(q) === second!.id);
  });

  it("429 with Retry-After: 1 waits at least about a second before the next attempt", async () => {
    const r = await receiver((_req, i) => (i === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }));
    const topic = "wh.429";
    await createSubscription(hub.url, { topic, url: r.url, retry: FAST_RETRY });
    await publish(hub.url, { topic, data: { x: 1 } });
    const [a, b] = await r.waitFor(2);
    expect(b!.headers["webhook-id"]).toBe(a!.headers["webhook-id"]);
    // A lower bound on our own wait, not a performance timing.
    expect(b!.receivedAt - a!.receivedAt).toBeGreaterThanOrEqual(900);
  });
});

describe("metrics", () => {
  it("/metrics counts delivery attempts", async () => {
    const r = await receiver();
    const topic = "wh.metrics";
    await createSubscription(hub.url, { topic, url: r.url });
    await publish(hub.url, { topic, data: { m: 1 } });
    await r.waitFor(1);
    const text = await eventually("an attempt counted", async () => {
      const res = await request(`${hub.url}/metrics`);
      return /^switchboard_delivery_attempts_total\{[^}]*\} [1-9]/m.test(res.text) ? res.text : undefined;
    });
    expect(text).toMatch(/^switchboard_delivery_attempts_total\{outcome="delivered"\} \d+/m);
  });
});
