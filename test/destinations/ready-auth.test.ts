import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { createSubscription } from "../helpers/webhooks.js";

// Nothing listens on port 1: the endpoint stays down with an error, which is what /ready must not leak.
const DOWN_URL = "nats://127.0.0.1:1/ready.subject";
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
});
afterAll(() => hub?.close());

describe("/ready and GET /api/destinations", () => {
  it("show broker hosts and errors with auth off; with auth on /ready shows only kind and state, the admin route the rest", async () => {
    await createSubscription(hub.url, { topic: "ready.t", url: DOWN_URL });
    const open = await eventually("the endpoint down, with its error, in /ready", async () => {
      const ready = await request(`${hub.url}/ready`);
      const d = ready.body.destinations?.[0];
      expect(d?.error).toBeTruthy();
      return d;
    });
    expect(open).toMatchObject({ kind: "nats", endpoint: "nats://127.0.0.1:1", state: expect.not.stringMatching(/^connected$/), subscriptions: 1 });

    const created = await postJson(`${hub.url}/api/keys`, { name: "admin", scopes: ["admin"] });
    expect(created.status, created.text).toBe(201);
    const token = created.body.token as string;

    const ready = await request(`${hub.url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.destinations).toEqual([{ kind: "nats", state: expect.stringMatching(/^(connecting|disconnected)$/), subscriptions: 1 }]);
    expect(ready.text).not.toContain("127.0.0.1");

    expect((await request(`${hub.url}/api/destinations`)).status).toBe(401);
    const full = await request(`${hub.url}/api/destinations`, { headers: bearer(token) });
    expect(full.status, full.text).toBe(200);
    expect(full.body.kinds.map((k: { kind: string }) => k.kind)).toEqual(["http", "nats", "amqp", "mqtt", "redis"]);
    expect(full.body.endpoints).toEqual([
      expect.objectContaining({ kind: "nats", endpoint: "nats://127.0.0.1:1", subscriptions: 1, error: expect.any(String) }),
    ]);
  });
});
