import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse, openSse, type SseConnection } from "../helpers/sse.js";

let hub: TestHub;

const SECRET = "streams-limit-test-secret-0123456789abc";
let headers: Record<string, string>;
let otherHeaders: Record<string, string>;

beforeAll(async () => {
  hub = await startTestHub({ maxStreamsPerCredential: 2, jwtSecret: SECRET });
  const sign = (sub: string) =>
    new SignJWT({ scope: "subscribe:**" }).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
  headers = { authorization: `Bearer ${await sign("reader")}` };
  otherHeaders = { authorization: `Bearer ${await sign("other-reader")}` };
});
afterAll(() => hub.close());

async function close(conn: SseConnection): Promise<void> {
  conn.close();
  await conn.closed;
}

describe("open streams per credential", () => {
  it("past maxStreamsPerCredential → 429 SB_STREAMS_PER_CREDENTIAL before the stream starts; a closed stream frees its place", async () => {
    // Refused streams (a bad filter) do not hold a place.
    for (let i = 0; i < 4; i++) {
      const bad = await request(`${hub.url}/events?filter=%28`, { headers: { ...headers, accept: "text/event-stream" } });
      expect(bad.status).toBe(400);
    }
    const a = await openLiveSse(hub.url, "/events?topic=limits.streams", { headers });
    const b = await openLiveSse(hub.url, "/api/topics/limits.streams/stream", { headers });
    const c = openSse(hub.url, "/events?topic=limits.streams", { headers });
    try {
      await c.waitUntilBodyEnded();
      expect(c.status).toBe(429);
      expect(c.headers["content-type"]).toMatch(/json/);
      expect(c.headers["retry-after"]).toBe("5");
      expect(c.json()).toMatchObject({ code: "SB_STREAMS_PER_CREDENTIAL" });
      expect(c.text).not.toContain("retry: ");
    } finally {
      await close(c);
    }
    // Another credential has places of its own.
    const other = await openLiveSse(hub.url, "/events?topic=limits.streams", { headers: otherHeaders });
    expect(other.status).toBe(200);
    await close(other);
    await close(a);
    const d = await eventually("a place to free up", async () => {
      const conn = openSse(hub.url, "/events?topic=limits.streams", { headers });
      await conn.waitForHead();
      if (conn.status === 200) return conn;
      await close(conn);
      return undefined;
    });
    await close(d);
    await close(b);
  });

  it("counts each JWT without sub apart, not all of them as one credential", async () => {
    // Two tokens without `sub` (they differ by jti): each has its own places.
    const subless = async (jti: string) => ({
      authorization: `Bearer ${await new SignJWT({ scope: "subscribe:**" }).setProtectedHeader({ alg: "HS256" }).setJti(jti).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET))}`,
    });
    const first = await subless("one");
    const second = await subless("two");
    const a = await openLiveSse(hub.url, "/events?topic=limits.subless", { headers: first });
    const b = await openLiveSse(hub.url, "/events?topic=limits.subless", { headers: first });
    const c = openSse(hub.url, "/events?topic=limits.subless", { headers: first });
    const other = openSse(hub.url, "/events?topic=limits.subless", { headers: second });
    try {
      await c.waitUntilBodyEnded();
      expect(c.status).toBe(429);
      await other.waitForHead();
      expect(other.status).toBe(200);
    } finally {
      for (const conn of [a, b, c, other]) await close(conn);
    }
  });
});
