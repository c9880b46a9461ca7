import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { httpRequest } from "../helpers/raw-http.js";

let hub: TestHub;

const SECRET = "rate-limit-test-secret-0123456789abcdef";
const tokens = new Map<string, string>();

beforeAll(async () => {
  hub = await startTestHub({ rateLimitPublishPerS: 3, rateLimitApiPerS: 4, jwtSecret: SECRET });
  for (const client of ["a", "b", "c", "d", "e", "f"]) {
    tokens.set(
      client,
      await new SignJWT({ scope: "admin" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(client)
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(SECRET)),
    );
  }
});
afterAll(() => hub.close());

/** Headers authenticating as `client`: limits are kept per credential (here `jwt:<client>`). */
const as = (client: string, headers: Record<string, string> = {}) => ({ ...headers, authorization: `Bearer ${tokens.get(client)}` });

const publish = (client: string) =>
  httpRequest(hub.url, "/api/topics/limits.rate/events", {
    method: "POST",
    headers: as(client, { "content-type": "application/json" }),
    body: '{"n":1}',
  });

describe("rate limits", () => {
  it("past the publish rate → 429 SB_RATE_LIMITED with Retry-After, and a bucket refills after a second", async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => publish("a")));
    const ok = replies.filter((r) => r.status === 201);
    const limited = replies.filter((r) => r.status === 429);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(ok.length).toBeLessThanOrEqual(4); // a token may refill while the ten are sent
    expect(limited.length).toBe(10 - ok.length);
    expect(limited[0]!.headers["retry-after"]).toBe("1");
    expect(limited[0]!.body).toMatchObject({ code: "SB_RATE_LIMITED", error: "too many requests" });
    expect(limited[0]!.body.details).toMatch(/publishing is limited to 3 requests per second/);

    await new Promise((r) => setTimeout(r, 1100));
    expect((await publish("a")).status).toBe(201);
  });

  it("past the API rate → 429 naming the API limit; publishing and the API have separate buckets", async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => httpRequest(hub.url, "/api/topics", { headers: as("b") })));
    const limited = replies.filter((r) => r.status === 429);
    expect(replies.filter((r) => r.status === 200).length).toBeLessThanOrEqual(5);
    expect(limited.length).toBeGreaterThanOrEqual(5);
    expect(limited[0]!.headers["retry-after"]).toBe("1");
    expect(limited[0]!.body.details).toMatch(/the API is limited to 4 requests per second/);
    // The API bucket is empty; the publish bucket of the same client is not.
    expect((await publish("b")).status).toBe(201);
  });

  it("keeps one bucket per credential", async () => {
    const a = await Promise.all(Array.from({ length: 8 }, () => publish("c")));
    expect(a.some((r) => r.status === 429)).toBe(true);
    const b = await publish("d");
    expect(b.status).toBe(201);
  });

  it("does not limit /health, /ready or /metrics", async () => {
    for (const path of ["/health", "/api/health", "/ready", "/metrics"]) {
      const replies = await Promise.all(Array.from({ length: 12 }, () => httpRequest(hub.url, path, { headers: as("e") })));
      expect(replies.map((r) => r.status)).toEqual(Array(12).fill(200));
    }
  });

  it("rate-limits stream opens as API calls", async () => {
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => httpRequest(hub.url, "/events?filter=%28", { headers: as("f", { accept: "text/event-stream" }) })),
    );
    // Every one is refused: a bad filter (400) within the rate, 429 past it.
    expect(replies.filter((r) => r.status === 400).length).toBeLessThanOrEqual(5);
    expect(replies.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(3);
  });

  it("limits no one when auth is off: there is no credential to key by", async () => {
    const open = await startTestHub({ rateLimitPublishPerS: 1, rateLimitApiPerS: 1 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 6 }, () =>
          httpRequest(open.url, "/api/topics/limits.open/events", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
        ),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(6).fill(201));
    } finally {
      await open.close();
    }
  });
});
