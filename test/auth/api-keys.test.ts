import { afterEach, describe, expect, it } from "vitest";
import { createApiKey, revokeApiKey } from "../../src/auth/api-keys.js";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

const hubs: TestHub[] = [];
afterEach(async () => {
  for (const h of hubs.splice(0)) await h.close();
});
async function newHub(overrides = {}): Promise<TestHub> {
  const hub = await startTestHub(overrides);
  hubs.push(hub);
  return hub;
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("API keys", () => {
  it("revoking the last key locks the hub; it never turns auth off", async () => {
    const hub = await newHub();
    const created = await postJson(`${hub.url}/api/keys`, { name: "only", scopes: ["admin"] });
    expect(created.status, created.text).toBe(201);
    const only = created.body.token as string;
    const revoked = await request(`${hub.url}/api/keys/${created.body.id}`, { method: "DELETE", headers: bearer(only) });
    expect(revoked.status, revoked.text).toBeLessThan(300);
    // Past the one-second cache of "is auth on", and again right away.
    for (const wait of [0, 1200]) {
      await new Promise((r) => setTimeout(r, wait));
      expect((await postJson(`${hub.url}/api/events`, { topic: "locked.a", data: {} }, bearer(only))).status).toBe(401);
      expect((await postJson(`${hub.url}/api/events`, { topic: "locked.a", data: {} })).status).toBe(401);
    }
  });

  it("auth is off while nothing is configured, and on once a key exists", async () => {
    const hub = await newHub();
    expect((await postJson(`${hub.url}/api/events`, { topic: "open.a", data: {} })).status).toBe(201);
    expect((await request(`${hub.url}/api/topics`)).status).toBe(200);

    // Auth is off: anyone may create the first key, which turns auth on at once.
    const created = await postJson(`${hub.url}/api/keys`, { name: "root", scopes: ["admin"] });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^key_[0-9A-Z]{26}$/),
      name: "root",
      prefix: created.body.token.slice(0, 8),
      scopes: ["admin"],
      token: expect.stringMatching(/^sbk_[A-Za-z0-9_-]{43}$/),
      created_at: expect.any(String),
      revoked_at: null,
    });
    const root = created.body.token as string;

    const anonymous = await postJson(`${hub.url}/api/events`, { topic: "open.a", data: {} });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await postJson(`${hub.url}/api/events`, { topic: "open.a", data: {} }, bearer(root))).status).toBe(201);

    // A scoped key, used then revoked.
    const scoped = await postJson(`${hub.url}/api/keys`, { scopes: ["publish:open.*"] }, bearer(root));
    expect(scoped.status).toBe(201);
    const t = scoped.body.token as string;
    expect((await postJson(`${hub.url}/api/events`, { topic: "open.b", data: {} }, bearer(t))).status).toBe(201);
    const forbidden = await postJson(`${hub.url}/api/events`, { topic: "closed.b", data: {} }, bearer(t));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.details).toBe("requires publish:closed.b");
    expect((await request(`${hub.url}/api/keys`, { headers: bearer(t) })).status).toBe(403);

    const list = await request(`${hub.url}/api/keys`, { headers: bearer(root) });
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: { id: string }) => k.id)).toEqual([created.body.id, scoped.body.id]);
    expect(list.text).not.toContain(root);
    expect(list.text).not.toContain(t);
    expect(list.body.data[0]).not.toHaveProperty("hash");
    expect(list.body.data[0]).not.toHaveProperty("token");

    expect((await request(`${hub.url}/api/keys/${scoped.body.id}`, { method: "DELETE", headers: bearer(root) })).status).toBe(204);
    const revoked = await postJson(`${hub.url}/api/events`, { topic: "open.b", data: {} }, bearer(t));
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe("SB_AUTH_INVALID");
    const missing = await request(`${hub.url}/api/keys/key_nope`, { method: "DELETE", headers: bearer(root) });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("SB_API_KEY_NOT_FOUND");

    // Revoking the last key locks the hub; auth stays on.
    expect((await request(`${hub.url}/api/keys/${created.body.id}`, { method: "DELETE", headers: bearer(root) })).status).toBe(204);
    expect((await postJson(`${hub.url}/api/events`, { topic: "open.a", data: {} })).status).toBe(401);
  });

  it("refuses invalid scopes with 400", async () => {
    const hub = await newHub();
    for (const body of [
      {},
      { scopes: [] },
      { scopes: ["write:all"] },
      { scopes: ["publish:"] },
      { scopes: ["publish:a..b"] },
      { scopes: ["admin"], extra: 1 },
    ]) {
      const reply = await postJson(`${hub.url}/api/keys`, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.code).toBe("SB_API_KEY_INVALID");
    }
  });

  it("picks up keys created and revoked in the store by another process (the CLI)", async () => {
    const hub = await newHub();
    const { key, token } = await createApiKey(hub.server.hub.store, { scopes: ["subscribe:**"] });
    await eventually("auth to turn on", async () => ((await request(`${hub.url}/api/events`)).status === 401 ? true : undefined), 5000);
    expect((await request(`${hub.url}/api/events`, { headers: bearer(token) })).status).toBe(200);
    expect((await postJson(`${hub.url}/api/events`, { topic: "a", data: {} }, bearer(token))).status).toBe(403);
    await revokeApiKey(hub.server.hub.store, key.id);
    // Revocation is checked on every request: no wait.
    expect((await request(`${hub.url}/api/events`, { headers: bearer(token) })).status).toBe(401);
  });

  it("stays off with SWITCHBOARD_AUTH=none, whatever is configured", async () => {
    const hub = await newHub({ auth: "none", jwtSecret: "some-secret-some-secret-some-secret" });
    await createApiKey(hub.server.hub.store, { scopes: ["admin"] });
    expect((await postJson(`${hub.url}/api/events`, { topic: "a", data: {} })).status).toBe(201);
    expect((await request(`${hub.url}/api/topics`)).status).toBe(200);
  });
});

describe("CORS preflight with auth on", () => {
  it("is answered without a credential, while the request itself needs one", async () => {
    const hub = await newHub({ jwtSecret: "a-secret-a-secret-a-secret-a-secret", corsOrigins: "*" });
    const preflight = await request(`${hub.url}/api/events`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(preflight.status).toBe(204);
    const actual = await postJson(`${hub.url}/api/events`, { topic: "a", data: {} }, { origin: "https://app.example" });
    expect(actual.status).toBe(401);
  });
});
