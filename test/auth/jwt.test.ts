import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

const SECRET = "a-test-secret-of-enough-length-0123456789";
let hub: TestHub;

/** An HS256 token with these scopes; `exp: null` leaves `exp` out, `sub: null` leaves `sub` out. */
async function token(
  scope: string,
  options: { exp?: number | string | null; nbf?: number | string; secret?: string; sub?: string | null } = {},
): Promise<string> {
  let jwt = new SignJWT({ scope }).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (options.sub !== null) jwt = jwt.setSubject(options.sub ?? "tester");
  if (options.exp !== null) jwt = jwt.setExpirationTime(options.exp ?? "5m");
  if (options.nbf !== undefined) jwt = jwt.setNotBefore(options.nbf);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
let admin: string;

beforeAll(async () => {
  hub = await startTestHub({ jwtSecret: SECRET });
  admin = await token("admin");
});
afterAll(() => hub.close());

async function storedTopics(): Promise<string[]> {
  const reply = await request(`${hub.url}/api/events?limit=1000`, { headers: bearer(admin) });
  expect(reply.status).toBe(200);
  return reply.body.data.map((e: { topic: string }) => e.topic);
}

describe("HS256 bearer tokens", () => {
  it("lets a token publish within its scope", async () => {
    const reply = await postJson(`${hub.url}/api/events`, { topic: "orders.created", data: { n: 1 } }, bearer(await token("publish:orders.*")));
    expect(reply.status, reply.text).toBe(201);
    expect(reply.body.topic).toBe("orders.created");
  });

  it("answers 403 naming the missing scope, and stores nothing, for a topic outside the grant", async () => {
    const t = await token("publish:orders.* subscribe:**");
    const reply = await postJson(`${hub.url}/api/events`, { topic: "payments.settled", data: {} }, bearer(t));
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ error: "forbidden", details: "requires publish:payments.settled", code: "SB_AUTH_FORBIDDEN" });
    expect(reply.text).not.toContain(t);

    // A batch is all or nothing: one event outside the grant refuses the whole request.
    const batch = await postJson(
      `${hub.url}/api/events`,
      [
        { topic: "orders.batch", data: {} },
        { topic: "payments.batch", data: {} },
      ],
      bearer(t),
    );
    expect(batch.status).toBe(403);
    expect(batch.body.details).toBe("requires publish:payments.batch");
    const topics = await storedTopics();
    expect(topics).not.toContain("payments.settled");
    expect(topics).not.toContain("orders.batch");
    expect(topics).not.toContain("payments.batch");
  });

  it("checks the topic of the path route and of /messages", async () => {
    const t = await token("publish:orders.**");
    expect((await postJson(`${hub.url}/api/topics/orders.eu.created/events`, { a: 1 }, bearer(t))).status).toBe(201);
    const other = await postJson(`${hub.url}/api/topics/stock.low/events`, { a: 1 }, bearer(t));
    expect(other.status).toBe(403);
    expect(other.body.details).toBe("requires publish:stock.low");
    const msg = await postJson(`${hub.url}/api/messages`, { topic: "stock.low", payload: {} }, bearer(t));
    expect(msg.status).toBe(403);
  });

  it.each<[string, () => Promise<Record<string, string>>]>([
    ["no credential", async () => ({})],
    ["an expired token", async () => bearer(await token("admin", { exp: Math.floor(Date.now() / 1000) - 60 }))],
    ["a token not valid yet", async () => bearer(await token("admin", { nbf: Math.floor(Date.now() / 1000) + 3600 }))],
    ["a wrong signature", async () => bearer(await token("admin", { secret: "another-secret-another-secret-12345" }))],
    ["garbage", async () => bearer("not.a.jwt")],
    ["an unknown API key", async () => bearer("sbk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
    ["another scheme", async () => ({ authorization: "Basic dXNlcjpwYXNz" })],
  ])("answers 401 with WWW-Authenticate for %s", async (_what, headers) => {
    const h = await headers();
    const reply = await postJson(`${hub.url}/api/events`, { topic: "orders.created", data: {} }, h);
    expect(reply.status).toBe(401);
    expect(reply.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(reply.body.code).toMatch(/^SB_AUTH_(REQUIRED|INVALID)$/);
    const sent = h.authorization?.replace(/^\w+ /, "");
    if (sent) expect(reply.text).not.toContain(sent);
  });

  it("says why a token is refused", async () => {
    const expired = await postJson(`${hub.url}/api/events`, { topic: "a", data: {} }, bearer(await token("admin", { exp: 1 })));
    expect(expired.body.details).toMatch(/expired/);
    const early = await postJson(`${hub.url}/api/events`, { topic: "a", data: {} }, bearer(await token("admin", { nbf: "1h" })));
    expect(early.body.details).toMatch(/not valid yet/);
  });

  it("refuses a token without exp, naming the setting that allows it", async () => {
    const t = await token("admin", { exp: null });
    const reply = await postJson(`${hub.url}/api/events`, { topic: "orders.created", data: {} }, bearer(t));
    expect(reply.status).toBe(401);
    expect(reply.headers.get("www-authenticate")).toBe('Bearer realm="switchboard", error="invalid_token"');
    expect(reply.body).toEqual({
      error: "invalid credential",
      details: "the token has no exp claim; tokens must expire unless SWITCHBOARD_JWT_REQUIRE_EXP=false (jwtRequireExp)",
      code: "SB_AUTH_INVALID",
    });
  });

  it("accepts a token without exp when jwtRequireExp is false, and still refuses an expired one", async () => {
    const lax = await startTestHub({ jwtSecret: SECRET, jwtRequireExp: false });
    try {
      const reply = await postJson(`${lax.url}/api/events`, { topic: "orders.created", data: {} }, bearer(await token("publish:**", { exp: null })));
      expect(reply.status, reply.text).toBe(201);
      const expired = await postJson(`${lax.url}/api/events`, { topic: "orders.created", data: {} }, bearer(await token("publish:**", { exp: 1 })));
      expect(expired.status).toBe(401);
      expect(expired.body.details).toBe("the token has expired");
    } finally {
      await lax.close();
    }
  });

  it("requires admin for topics, subscriptions, publishers, deliveries and keys", async () => {
    const t = await token("publish:** subscribe:**");
    for (const [method, path] of [
      ["GET", "/api/topics"],
      ["POST", "/api/topics"],
      ["GET", "/api/topics/orders.created"],
      ["DELETE", "/api/topics/orders.created"],
      ["GET", "/api/subscriptions"],
      ["POST", "/api/subscriptions"],
      ["GET", "/api/subscriptions/sub_x/secret"],
      ["GET", "/api/subscriptions/sub_x/headers"],
      ["POST", "/api/publishers"],
      ["GET", "/api/deliveries"],
      ["GET", "/api/keys"],
      ["POST", "/api/keys"],
      ["DELETE", "/api/keys/key_x"],
    ]) {
      const reply = await request(`${hub.url}${path}`, {
        method,
        headers: { ...bearer(t), "content-type": "application/json" },
        body: method === "POST" ? "{}" : undefined,
      });
      expect(reply.status, `${method} ${path}`).toBe(403);
      expect(reply.body.details).toBe("requires admin");
    }
    expect((await request(`${hub.url}/api/topics`, { headers: bearer(admin) })).status).toBe(200);
    expect((await request(`${hub.url}/api/deliveries`, { headers: bearer(admin) })).status).toBe(200);
  });

  it("leaves /health, /api/health, /ready and /metrics open", async () => {
    for (const path of ["/health", "/api/health", "/ready", "/metrics"]) {
      expect((await request(`${hub.url}${path}`)).status, path).toBe(200);
    }
  });

  it("searches only topics the token may subscribe to", async () => {
    await postJson(`${hub.url}/api/events`, { topic: "orders.searched", data: {} }, bearer(admin));
    const t = await token("subscribe:orders.*");
    const ok = await request(`${hub.url}/api/events?topic=orders.searched`, { headers: bearer(t) });
    expect(ok.status).toBe(200);
    expect(ok.body.data.length).toBeGreaterThan(0);
    const all = await request(`${hub.url}/api/events`, { headers: bearer(t) });
    expect(all.status).toBe(403);
    expect(all.body.details).toBe("requires subscribe:**");
    const deeper = await request(`${hub.url}/api/events?topic=orders.**`, { headers: bearer(t) });
    expect(deeper.body.details).toBe("requires subscribe:orders.**");
    const publishOnly = await request(`${hub.url}/api/events?topic=orders.searched`, { headers: bearer(await token("publish:**")) });
    expect(publishOnly.status).toBe(403);
  });

  it("answers 404 for an event outside the token's subscribe scopes, as for one that does not exist", async () => {
    const stored = await postJson(`${hub.url}/api/events`, { topic: "secret.stuff", data: { x: 1 } }, bearer(admin));
    const outside = await request(`${hub.url}/api/events/${stored.body.id}`, { headers: bearer(await token("subscribe:orders.*")) });
    expect(outside.status).toBe(404);
    expect(outside.body.code).toBe("SB_EVENT_NOT_FOUND");
    const inside = await request(`${hub.url}/api/events/${stored.body.id}`, { headers: bearer(await token("subscribe:secret.*")) });
    expect(inside.status).toBe(200);
    expect(inside.body.data).toEqual({ x: 1 });
  });
});

describe("streams", () => {
  /** Opens a stream and returns its status and content type, then closes it. */
  async function openStream(path: string, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const res = await fetch(`${hub.url}${path}`, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal });
    const result = {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      auth: res.headers.get("www-authenticate"),
      body: res.status === 200 ? "" : await res.text(),
    };
    controller.abort();
    return result;
  }

  it("take the token from Authorization, ?access_token= or the switchboard_token cookie", async () => {
    const t = await token("subscribe:orders.*");
    for (const [path, headers] of [
      ["/events?topic=orders.created", bearer(t)],
      [`/events?topic=orders.*&access_token=${encodeURIComponent(t)}`, {}],
      ["/api/topics/orders.created/stream", { cookie: `theme=dark; switchboard_token=${t}` }],
      [`/api/topics/orders.created/stream?access_token=${t}`, {}],
    ] as const) {
      const s = await openStream(path, headers);
      expect(s.status, path).toBe(200);
      expect(s.type).toMatch(/^text\/event-stream/);
    }
  });

  it("answer 401 without a credential and 403 outside the scope", async () => {
    const missing = await openStream("/events?topic=orders.created");
    expect(missing.status).toBe(401);
    expect(missing.auth).toMatch(/^Bearer/);
    const t = await token("subscribe:orders.*");
    const outside = await openStream(`/events?topic=payments.*&access_token=${t}`);
    expect(outside.status).toBe(403);
    expect(JSON.parse(outside.body).details).toBe("requires subscribe:payments.*");
    expect(outside.body).not.toContain(t);
    const everything = await openStream(`/events?access_token=${t}`);
    expect(everything.status).toBe(403);
    expect(JSON.parse(everything.body).details).toBe("requires subscribe:**");
    expect((await openStream(`/events?access_token=${await token("subscribe:**")}`)).status).toBe(200);
  });

  it("do not take ?access_token= on other routes", async () => {
    const reply = await postJson(`${hub.url}/api/events?access_token=${admin}`, { topic: "orders.created", data: {} });
    expect(reply.status).toBe(401);
  });
});

describe("with an empty BASE_PATH, where /events is also the search and publishing", () => {
  let root: TestHub;
  let publisher: string;
  let reader: string;
  beforeAll(async () => {
    root = await startTestHub({ jwtSecret: SECRET, basePath: "" });
    publisher = await token("publish:** subscribe:**");
    reader = await token("subscribe:**");
  });
  afterAll(() => root.close());

  it("POST /events takes neither the switchboard_token cookie nor ?access_token=", async () => {
    const event = { topic: "orders.created", data: {} };
    const withCookie = await postJson(`${root.url}/events`, event, { cookie: `switchboard_token=${publisher}` });
    expect(withCookie.status).toBe(401);
    expect(withCookie.body).toEqual({ error: "authentication required", details: "send Authorization: Bearer <token>", code: "SB_AUTH_REQUIRED" });
    const withQuery = await postJson(`${root.url}/events?access_token=${publisher}`, event);
    expect(withQuery.status).toBe(401);
    expect(withQuery.body.code).toBe("SB_AUTH_REQUIRED");
    // With the header, the same request publishes.
    expect((await postJson(`${root.url}/events`, event, bearer(publisher))).status).toBe(201);
  });

  it("GET /events without Accept: text/event-stream is the search, and takes neither", async () => {
    const withCookie = await request(`${root.url}/events?topic=orders.created`, { headers: { cookie: `switchboard_token=${reader}` } });
    expect(withCookie.status).toBe(401);
    const withQuery = await request(`${root.url}/events?topic=orders.created&access_token=${reader}`);
    expect(withQuery.status).toBe(401);
    expect((await request(`${root.url}/events?topic=orders.created`, { headers: bearer(reader) })).status).toBe(200);
  });

  it("GET /events with Accept: text/event-stream still streams with the cookie or ?access_token=", async () => {
    for (const [path, headers] of [
      ["/events?topic=orders.created", { cookie: `switchboard_token=${reader}` }],
      [`/events?topic=orders.created&access_token=${reader}`, {}],
      ["/topics/orders.created/stream", { cookie: `switchboard_token=${reader}` }],
    ] as const) {
      const controller = new AbortController();
      const res = await fetch(`${root.url}${path}`, { headers: { accept: "text/event-stream", ...headers }, signal: controller.signal });
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      controller.abort();
    }
  });
});

describe("JWTs without a scope claim (switch's tokens)", () => {
  /** An HS256 token with no `scope` claim, as switch mints them; `claims` adds others. */
  const bare = (claims: Record<string, unknown> = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("switch-sdk")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(SECRET));

  it("get 403 by default: such a token carries no scope", async () => {
    const reply = await postJson(`${hub.url}/api/events`, { topic: "orders.created", data: {} }, bearer(await bare()));
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ error: "forbidden", details: "requires publish:orders.created", code: "SB_AUTH_FORBIDDEN" });
  });

  it("get SWITCHBOARD_JWT_DEFAULT_SCOPES when it is set, and nothing beyond them", async () => {
    const lenient = await startTestHub({ jwtSecret: SECRET, jwtDefaultScopes: "publish:orders.*, subscribe:orders.*" });
    try {
      const t = await bare();
      const ok = await postJson(`${lenient.url}/api/events`, { topic: "orders.created", data: { n: 1 } }, bearer(t));
      expect(ok.status, ok.text).toBe(201);
      const read = await request(`${lenient.url}/api/events?topic=orders.created`, { headers: bearer(t) });
      expect(read.status, read.text).toBe(200);
      expect(read.body.data.map((e: { data: unknown }) => e.data)).toEqual([{ n: 1 }]);
      const outside = await postJson(`${lenient.url}/api/events`, { topic: "payments.settled", data: {} }, bearer(t));
      expect(outside.status).toBe(403);
      expect(outside.body.details).toBe("requires publish:payments.settled");
      expect((await request(`${lenient.url}/api/topics`, { headers: bearer(t) })).status).toBe(403);

      // A token that has a scope claim keeps exactly its own, even an empty one; `scp` counts as the claim too.
      const own = await token("subscribe:**");
      expect((await postJson(`${lenient.url}/api/events`, { topic: "orders.created", data: {} }, bearer(own))).status).toBe(403);
      const empty = await token("");
      expect((await postJson(`${lenient.url}/api/events`, { topic: "orders.created", data: {} }, bearer(empty))).status).toBe(403);
      const scp = await bare({ scp: ["publish:payments.*"] });
      expect((await postJson(`${lenient.url}/api/events`, { topic: "payments.settled", data: {} }, bearer(scp))).status).toBe(201);
      expect((await postJson(`${lenient.url}/api/events`, { topic: "orders.created", data: {} }, bearer(scp))).status).toBe(403);
    } finally {
      await lenient.close();
    }
  });

  it("refuse to start with an invalid default scope", async () => {
    await expect(startTestHub({ jwtSecret: SECRET, jwtDefaultScopes: "publish" })).rejects.toThrow(
      /SWITCHBOARD_JWT_DEFAULT_SCOPES: scope "publish" needs a topic pattern/,
    );
  });
});
