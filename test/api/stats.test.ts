import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { FAST_RETRY } from "../helpers/webhooks.js";

const SECRET = "a-test-secret-of-enough-length-0123456789";
let hub: TestHub;
let api: string;
let receiver: Receiver;
let admin: Record<string, string>;

async function bearer(scope: string): Promise<Record<string, string>> {
  const jwt = await new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setSubject("tester").setExpirationTime("5m");
  return { authorization: `Bearer ${await jwt.sign(new TextEncoder().encode(SECRET))}` };
}

/** Sums a field over the buckets (publishing may straddle a minute). */
const total = (buckets: Array<Record<string, number>>, field: string) => buckets.reduce((n, b) => n + b[field]!, 0);

beforeAll(async () => {
  hub = await startTestHub({ jwtSecret: SECRET, allowPrivateTargets: true });
  api = `${hub.url}/api`;
  admin = await bearer("admin");
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await hub?.close();
});

async function get(path: string, headers = admin) {
  return request(`${api}${path}`, { headers });
}

describe("GET /api/stats/events", () => {
  beforeAll(async () => {
    const sent = await postJson(
      `${api}/events`,
      [
        { topic: "stats.orders.created", type: "created", data: { a: 1 } },
        { topic: "stats.orders.created", type: "created", data: { a: 2 } },
        { topic: "stats.orders.paid", type: "paid", data: { a: 3 } },
        { topic: "stats.orders.eu.created", type: "created", data: {} },
        { topic: "stats.users", data: {} },
      ],
      admin,
    );
    expect(sent.status).toBe(201);
  });

  it("counts events and bytes per minute, bucket times aligned on the interval", async () => {
    const reply = await get(`/stats/events?topic=stats.**&interval=1m`);
    expect(reply.status, reply.text).toBe(200);
    expect(Object.keys(reply.body)).toEqual(["buckets"]);
    for (const b of reply.body.buckets) expect(Date.parse(b.t) % 60_000).toBe(0);
    expect(total(reply.body.buckets, "count")).toBe(5);
    expect(total(reply.body.buckets, "bytes")).toBe(3 * 7 + 2 * 2);
  });

  it.each([
    ["a one-segment pattern", "topic=stats.orders.*", 3],
    ["a name", "topic=stats.orders.paid", 1],
    ["a leading wildcard", "topic=*.users", 1],
    ["a type", "topic=stats.**&type=created", 3],
    ["a pattern matching every topic", "topic=**", 5],
    ["a type over every topic", "type=created", 3],
  ])("selects by %s", async (_, query, expected) => {
    const reply = await get(`/stats/events?${query}&interval=1d`);
    expect(reply.status, reply.text).toBe(200);
    expect(total(reply.body.buckets, "count")).toBe(expected);
  });

  it("groups by topic or type", async () => {
    const byTopic = await get(`/stats/events?topic=stats.orders.*&interval=1d&group_by=topic`);
    expect(byTopic.body.buckets.map((b: { topic: string; count: number }) => [b.topic, b.count])).toEqual([
      ["stats.orders.created", 2],
      ["stats.orders.paid", 1],
    ]);
    const byType = await get(`/stats/events?topic=stats.**&interval=1d&group_by=type`);
    expect(byType.body.buckets.map((b: { type: string; count: number }) => [b.type, b.count])).toEqual([
      ["", 1],
      ["created", 3],
      ["paid", 1],
    ]);
  });

  it.each([
    ["interval=2m", "SB_QUERY_INVALID", /interval must be one of 1m, 5m, 1h, 1d/],
    ["group_by=source", "SB_QUERY_INVALID", /group_by must be topic or type/],
    ["from=yesterday", "SB_QUERY_INVALID_TIME", /invalid from parameter/],
    ["from=2025-01-02&to=2025-01-01", "SB_QUERY_INVALID_TIME", /from is after to/],
    ["from=2020-01-01&to=2025-01-01&interval=1m", "SB_QUERY_INVALID", /at most 10000/],
    ["topic=a..b", "SB_QUERY_INVALID", /topic/],
  ])("refuses %s with a 400 naming the parameter", async (query, code, details) => {
    const reply = await get(`/stats/events?${query}`);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe(code);
    expect(reply.body.details).toMatch(details);
  });

  it("takes the subscribe scopes of the topics asked for", async () => {
    const scoped = await bearer("subscribe:stats.orders.*");
    expect((await get(`/stats/events?topic=stats.orders.*&interval=1d`, scoped)).status).toBe(200);
    expect((await get(`/stats/events?topic=stats.users&interval=1d`, scoped)).status).toBe(403);
    expect((await get(`/stats/events?interval=1d`, scoped)).status).toBe(403);
    expect((await request(`${api}/stats/events`)).status).toBe(401);
  });
});

describe("GET /api/stats/deliveries", () => {
  it("counts a subscription's attempts by outcome with a latency histogram; admin only", async () => {
    receiver.respond((req) => (req.body.includes('"fail":true') ? { status: 500 } : { status: 200 }));
    const created = await postJson(`${api}/subscriptions`, { topic: "hooks.stats", url: receiver.url, retry: FAST_RETRY }, admin);
    expect(created.status, created.text).toBe(201);
    const sub = created.body;
    const events = [{ data: { ok: 1 } }, { data: { ok: 2 } }, { data: { fail: true } }].map((e) => ({ topic: "hooks.stats", ...e }));
    expect((await postJson(`${api}/events`, events, admin)).status).toBe(201);
    const buckets = await eventually("the dead delivery's attempts counted", async () => {
      const reply = await get(`/stats/deliveries?subscription=${sub.id}&interval=1d`);
      expect(reply.status, reply.text).toBe(200);
      return total(reply.body.buckets, "dead") === 1 ? reply.body.buckets : undefined;
    });
    expect(total(buckets, "delivered")).toBe(2);
    expect(total(buckets, "failed")).toBe(FAST_RETRY.schedule.length - 1);
    const attempts = 2 + FAST_RETRY.schedule.length;
    const histogram = buckets[0].latency_ms.histogram;
    expect(Object.keys(histogram)).toEqual(["10", "25", "50", "100", "250", "500", "1000", "2500", "10000", "+Inf"]);
    expect(Object.values(histogram).reduce((n: number, c) => n + (c as number), 0)).toBe(attempts);
    expect(buckets[0].latency_ms.sum).toBeGreaterThan(0);
    const other = await get(`/stats/deliveries?subscription=sub_none&interval=1d`);
    expect(other.body).toEqual({ buckets: [] });
    expect((await get(`/stats/deliveries?interval=1d`, await bearer("subscribe:**"))).status).toBe(403);
  });
});

describe("with the rollups off (SWITCHBOARD_ROLLUPS=false)", () => {
  let off: TestHub;
  beforeAll(async () => {
    off = await startTestHub({ rollups: false });
  });
  afterAll(async () => {
    await off?.close();
  });

  it("takes events as usual, and the stats routes answer 409 SB_ROLLUPS_OFF rather than empty buckets", async () => {
    expect((await postJson(`${off.url}/api/events`, { topic: "orders", data: { a: 1 } })).status).toBe(201);
    for (const path of ["/api/stats/events?interval=1m", "/api/stats/deliveries?interval=1m"]) {
      const reply = await request(`${off.url}${path}`);
      expect(reply.status, path).toBe(409);
      expect(reply.body.code).toBe("SB_ROLLUPS_OFF");
      expect(reply.body.details).toContain("SWITCHBOARD_ROLLUPS=false");
    }
    const search = await request(`${off.url}/api/events?topic=orders`);
    expect(search.body.data).toHaveLength(1);
  });
});
