import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

// Issue 9, finding 2: client ids and Idempotency-Keys must not cross credentials.
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("repeats of ids and Idempotency-Keys across credentials", () => {
  let hub: TestHub;
  let admin: string;
  let orders: string;

  beforeEach(async () => {
    hub = await startTestHub();
    admin = (await postJson(`${hub.url}/api/keys`, { name: "root", scopes: ["admin"] })).body.token;
    const scoped = await postJson(`${hub.url}/api/keys`, { name: "orders", scopes: ["publish:orders.*", "subscribe:orders.*"] }, bearer(admin));
    expect(scoped.status, scoped.text).toBe(201);
    orders = scoped.body.token;
  });
  afterEach(async () => {
    await hub.close();
  });

  it("answers another credential's id with a 409 that reveals nothing of the stored event", async () => {
    const secret = await postJson(`${hub.url}/api/events`, { topic: "payments.secret", id: "pay-1", data: { amount: 5 } }, bearer(admin));
    expect(secret.status, secret.text).toBe(201);

    const probe = await postJson(`${hub.url}/api/events`, { topic: "orders.x", id: "pay-1", data: {} }, bearer(orders));
    expect(probe.status, probe.text).toBe(409);
    expect(probe.body.code).toBe("SB_EVENT_ID_CONFLICT");
    expect(probe.headers.get("idempotent-replayed")).toBeNull();
    expect(probe.text).not.toContain("payments");
    expect(probe.text).not.toContain(`"seq"`);

    // The owner's own repeat still replays.
    const again = await postJson(`${hub.url}/api/events`, { topic: "payments.secret", id: "pay-1", data: { amount: 5 } }, bearer(admin));
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(secret.body);
  });

  it("never answers a later publish of a claimed id as stored (no silent loss after a 201)", async () => {
    const squat = await postJson(`${hub.url}/api/events`, { topic: "orders.x", id: "ord-2000", data: {} }, bearer(orders));
    expect(squat.status).toBe(201);
    const victim = await postJson(`${hub.url}/api/events`, { topic: "payments.secret", id: "ord-2000", data: { amount: 9 } }, bearer(admin));
    expect(victim.status, victim.text).toBe(409);
    expect(victim.body.code).toBe("SB_EVENT_ID_CONFLICT");
    const stored = await request(`${hub.url}/api/events/ord-2000`, { headers: bearer(admin) });
    expect(stored.body.topic).toBe("orders.x");
  });

  it("keeps Idempotency-Keys per credential", async () => {
    const squat = await postJson(`${hub.url}/api/events`, { topic: "orders.x", data: { n: 1 } }, { ...bearer(orders), "idempotency-key": "victim-k1" });
    expect(squat.status).toBe(201);
    const victim = await postJson(
      `${hub.url}/api/events`,
      { topic: "payments.secret", data: { amount: 9 } },
      { ...bearer(admin), "idempotency-key": "victim-k1" },
    );
    expect(victim.status, victim.text).toBe(201);
    expect(victim.headers.get("idempotent-replayed")).toBeNull();
    expect(victim.body.topic).toBe("payments.secret");
    expect(victim.body.seq).toBeGreaterThan(squat.body.seq);
    const read = await request(`${hub.url}/api/events/${victim.body.id}`, { headers: bearer(admin) });
    expect(read.body.data).toEqual({ amount: 9 });

    // The same credential reusing its key for another topic is told so.
    const reused = await postJson(`${hub.url}/api/events`, { topic: "orders.y", data: {} }, { ...bearer(orders), "idempotency-key": "victim-k1" });
    expect(reused.status, reused.text).toBe(409);
    expect(reused.body.code).toBe("SB_IDEMPOTENCY_KEY_CONFLICT");
    const replay = await postJson(`${hub.url}/api/events`, { topic: "orders.x", data: { n: 2 } }, { ...bearer(orders), "idempotency-key": "victim-k1" });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(squat.body);
  });
});

describe("repeats with auth off", () => {
  it("replay as before: the first result, whatever the topic", async () => {
    const hub = await startTestHub();
    try {
      const first = await postJson(`${hub.url}/api/events`, { topic: "payments.secret", id: "pay-1", data: {} });
      const again = await postJson(`${hub.url}/api/events`, { topic: "orders.x", id: "pay-1", data: {} });
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body).toEqual(first.body);
    } finally {
      await hub.close();
    }
  });
});
