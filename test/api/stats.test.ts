import Database from "better-sqlite3";
import { SignJWT } from "jose";
import { join } from "node:path";
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

describe("a day of minutes: a reply of several pieces", () => {
  // Rows written straight into the hub's file (a day of traffic would take too long to make): 1,440 minutes of one
  // subscription, and of four topics, one of them past ASCII. Their replies are ~300 KB and ~380 KB, sent in pieces.
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const from = end - 86_400_000;
  const minutes = Array.from({ length: 1440 }, (_, i) => from + i * 60_000);
  const topics = ["wire.orders", "wire.commandes.créées", "wire.\u{1F4E6}", 'wire.quo"te'];
  const range = `from=${new Date(from).toISOString()}&to=${new Date(end).toISOString()}&interval=1m`;
  beforeAll(() => {
    const db = new Database(join(hub.dir, "hub.db"));
    try {
      db.pragma("busy_timeout = 5000");
      const delivery = db.prepare(
        `INSERT INTO delivery_rollups (res, t, subscription_id, delivered, failed, dead, latency_sum, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9)
         VALUES (60000, ?, 'sub_wire', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const event = db.prepare(`INSERT INTO event_rollups (res, t, topic, type, count, bytes) VALUES (60000, ?, ?, 'wire', ?, ?)`);
      db.transaction(() => {
        for (const [i, t] of minutes.entries()) {
          delivery.run(t, i * 7919, i % 13, i % 29 === 0 ? 1 : 0, i * 12.25 + 0.1, ...Array.from({ length: 10 }, (_, j) => (i * j) % 1000));
          for (const [k, topic] of topics.entries()) event.run(t, topic, i + k, (i + k) * 200);
        }
      })();
    } finally {
      db.close();
    }
  });

  /** GET over HTTP, the body as bytes. */
  async function getBytes(path: string, method = "GET"): Promise<{ res: Response; bytes: Buffer }> {
    const res = await fetch(`${api}${path}`, { method, headers: admin });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  /** The framing of a reply of `bytes`: a Content-Length, not chunked; HEAD answers the same length and no body. */
  async function expectFramed(path: string, bytes: Buffer): Promise<void> {
    const head = await getBytes(path, "HEAD");
    expect(head.res.status).toBe(200);
    expect(head.res.headers.get("content-length")).toBe(String(bytes.length));
    expect(head.bytes.length).toBe(0);
  }

  it("answers a subscription's day at 1m with the text of the buckets serialised as objects, with its Content-Length", async () => {
    const path = `/stats/deliveries?subscription=sub_wire&${range}`;
    const { res, bytes } = await getBytes(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("content-length")).toBe(String(bytes.length));
    expect(res.headers.get("transfer-encoding")).toBeNull();
    const expected = JSON.stringify({
      buckets: minutes.map((t, i) => ({
        t: new Date(t).toISOString(),
        delivered: i * 7919,
        failed: i % 13,
        dead: i % 29 === 0 ? 1 : 0,
        latency_ms: {
          sum: i * 12.25 + 0.1,
          histogram: Object.fromEntries(["10", "25", "50", "100", "250", "500", "1000", "2500", "10000", "+Inf"].map((le, j) => [le, (i * j) % 1000])),
        },
      })),
    });
    expect(bytes.length).toBeGreaterThan(200_000);
    expect(bytes.equals(Buffer.from(expected, "utf8"))).toBe(true);
    await expectFramed(path, bytes);
  });

  it("answers a day of topics grouped by topic, UTF-8 past ASCII, with its Content-Length", async () => {
    const path = `/stats/events?topic=wire.**&group_by=topic&${range}`;
    const { res, bytes } = await getBytes(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(bytes.length));
    expect(res.headers.get("transfer-encoding")).toBeNull();
    // Buckets in time order, and within a time by topic (code point order, as the store sorts them).
    const sorted = topics.map((topic, k) => ({ topic, k })).sort((a, b) => (a.topic < b.topic ? -1 : 1));
    const expected = JSON.stringify({
      buckets: minutes.flatMap((t, i) => sorted.map(({ topic, k }) => ({ t: new Date(t).toISOString(), topic, count: i + k, bytes: (i + k) * 200 }))),
    });
    expect(bytes.length).toBeGreaterThan(200_000);
    expect(bytes.toString("utf8")).toBe(expected);
    expect(bytes.equals(Buffer.from(expected, "utf8"))).toBe(true);
    await expectFramed(path, bytes);
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
