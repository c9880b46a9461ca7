import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { httpRequest } from "../helpers/raw-http.js";
import { openLiveSse, type SseConnection } from "../helpers/sse.js";

const APP = "https://app.example.com";
const EVIL = "https://evil.example.net";

let hub: TestHub;
let open: TestHub;
let off: TestHub;

beforeAll(async () => {
  [hub, open, off] = await Promise.all([
    startTestHub({ corsOrigins: `${APP}, https://other.example.com` }),
    startTestHub({ corsOrigins: "*" }),
    startTestHub(),
  ]);
});
afterAll(() => Promise.all([hub?.close(), open?.close(), off?.close()]));

const preflight = (h: TestHub, path: string, origin: string, requestHeaders = "content-type, authorization") =>
  httpRequest(h.url, path, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders },
  });

async function sseHead(h: TestHub, origin: string): Promise<SseConnection> {
  return openLiveSse(h.url, "/events?topic=cors.sse", { headers: { origin } });
}

describe("CORS", () => {
  it("answers a preflight from an allowed origin with 204 and the allowed methods and headers", async () => {
    for (const path of ["/api/events", "/api/topics/cors.x/events", "/events", "/api/subscriptions/sub_1"]) {
      const reply = await preflight(hub, path, APP, "content-type, authorization, idempotency-key, ce-type, ce-source, x-evil");
      expect(reply.status).toBe(204);
      expect(reply.headers["access-control-allow-origin"]).toBe(APP);
      expect(reply.headers["access-control-allow-methods"]).toContain("POST");
      const allowed = String(reply.headers["access-control-allow-headers"]).split(", ");
      expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "idempotency-key", "last-event-id", "ce-type", "ce-source"]));
      expect(allowed).not.toContain("x-evil");
      expect(Number(reply.headers["access-control-max-age"])).toBeGreaterThan(0);
      expect(reply.headers.vary).toMatch(/Origin/);
    }
  });

  it("refuses a preflight from another origin → 403 SB_CORS_FORBIDDEN without CORS headers", async () => {
    const reply = await preflight(hub, "/api/events", EVIL);
    expect(reply.status).toBe(403);
    expect(reply.body.code).toBe("SB_CORS_FORBIDDEN");
    expect(reply.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("adds Allow-Origin and Expose-Headers to replies to an allowed origin, errors included; none for another origin", async () => {
    const post = (origin: string) =>
      httpRequest(hub.url, "/api/topics/cors.x/events", { method: "POST", headers: { origin, "content-type": "application/json" }, body: "{}" });
    const ok = await post(APP);
    expect(ok.status).toBe(201);
    expect(ok.headers["access-control-allow-origin"]).toBe(APP);
    expect(ok.headers["access-control-expose-headers"]).toContain("retry-after");
    const missing = await httpRequest(hub.url, "/api/nothing", { headers: { origin: APP } });
    expect(missing.status).toBe(404);
    expect(missing.headers["access-control-allow-origin"]).toBe(APP);
    const bad = await httpRequest(hub.url, "/api/topics/cors.x/events", {
      method: "POST",
      headers: { origin: APP, "content-type": "application/json" },
      body: "{",
    });
    expect(bad.status).toBe(400);
    expect(bad.headers["access-control-allow-origin"]).toBe(APP);
    const evil = await post(EVIL);
    expect(evil.status).toBe(201); // CORS is the browser's to enforce; it sees no Allow-Origin and hides the reply
    expect(evil.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("puts the headers on SSE streams, which write their own head", async () => {
    const conn = await sseHead(hub, APP);
    try {
      expect(conn.headers["content-type"]).toMatch(/text\/event-stream/);
      expect(conn.headers["access-control-allow-origin"]).toBe(APP);
      expect(conn.headers.vary).toBe("Origin");
    } finally {
      conn.close();
      await conn.closed;
    }
    const evil = await sseHead(hub, EVIL);
    try {
      expect(evil.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      evil.close();
      await evil.closed;
    }
  });

  it("with corsOrigins *, allows any origin with *", async () => {
    const reply = await preflight(open, "/api/events", EVIL);
    expect(reply.status).toBe(204);
    expect(reply.headers["access-control-allow-origin"]).toBe("*");
    const conn = await sseHead(open, EVIL);
    try {
      expect(conn.headers["access-control-allow-origin"]).toBe("*");
    } finally {
      conn.close();
      await conn.closed;
    }
  });

  it("is off by default: no CORS headers, no preflight answer", async () => {
    const reply = await preflight(off, "/api/events", APP);
    expect(reply.status).toBe(404);
    expect(reply.headers["access-control-allow-origin"]).toBeUndefined();
    const get = await httpRequest(off.url, "/api/topics", { headers: { origin: APP } });
    expect(get.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
