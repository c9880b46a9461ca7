import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, eventIdOf, getJson, publish, publishMany, sleep } from "../helpers/webhooks.js";

// Paths where a failing receiver must not wedge a subscription or make the hub talk to itself forever.

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

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

async function countDeliveries(subscriptionId: string, status: string): Promise<number> {
  const page = await getJson(`${api}/deliveries?subscription=${subscriptionId}&status=${status}&limit=1000`);
  return page.data.length;
}

describe("recovery", () => {
  it("changing a subscription while attempts are in flight sends no event twice", async () => {
    const r = await receiver();
    r.respond({ status: 200 }, 300); // slow: the PATCH lands while attempts are in flight
    const topic = "rec.patch";
    const sub = await createSubscription(hub.url, { topic, url: r.url, max_in_flight: 4 });
    const events = await publishMany(hub.url, topic, 8);
    // Requests are recorded on arrival and answered 300 ms later: once one is here, attempts are in flight.
    await r.waitFor(1);
    expect(r.requests.length).toBeLessThan(8);
    const reply = await request(`${api}/subscriptions/${sub.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ headers: { "x-after": "patch" } }),
    });
    expect(reply.status, reply.text).toBe(200);
    await r.waitFor(8, 15_000);
    await sleep(500); // a duplicate would arrive within this
    const ids = r.requests.map(eventIdOf);
    expect(new Set(ids).size).toBe(8);
    expect(ids).toHaveLength(8);
    expect(new Set(ids)).toEqual(new Set(events.map((e: { id: string }) => e.id)));
  });

  it("new events flow again once the receiver is back, even after every earlier delivery died", async () => {
    const r = await receiver({ status: 500 });
    const topic = "rec.breaker";
    const sub = await createSubscription(hub.url, { topic, url: r.url, retry: { schedule: [0] } });
    // More consecutive failures than the breaker tolerates, each delivery dead after its one attempt.
    await publishMany(hub.url, topic, 8);
    await eventually("8 dead deliveries", async () => ((await countDeliveries(sub.id, "dead")) === 8 ? true : undefined));

    r.respond({ status: 200 });
    const [later] = await publish(hub.url, { topic, data: { later: true } });
    await r.waitFor(1, 10_000, (q) => eventIdOf(q) === later!.id);
  });

  it("a dead delivery of a system event is not announced (no announcement loop)", async () => {
    const r = await receiver({ status: 500 });
    // Matches the app's topic and switchboard.delivery.dead alike.
    const sub = await createSubscription(hub.url, { topic: "*.delivery.*", url: r.url, retry: { schedule: [0] } });
    const [event] = await publish(hub.url, { topic: "app.delivery.failed", data: { a: 1 } });
    // The app event dies, its announcement is delivered too (and dies): two requests.
    await r.waitFor(2);
    await eventually("both deliveries dead", async () => ((await countDeliveries(sub.id, "dead")) === 2 ? true : undefined));
    await sleep(500);
    const announced = (await getJson(`${api}/events?topic=switchboard.delivery.dead&limit=1000`)).data.filter((e: any) => e.data.subscription_id === sub.id);
    expect(announced.map((e: any) => e.data.event_id)).toEqual([event!.id]);
    expect(r.requests).toHaveLength(2);
  });

  it("resume delivers every open delivery, however many share an event (three replays of 600 events)", { timeout: 60_000 }, async () => {
    const r = await receiver();
    const topic = "rec.replays";
    const posted = await publishMany(hub.url, topic, 600);
    const sub = await createSubscription(hub.url, { topic, url: r.url, active: false, max_in_flight: 64 });
    for (let i = 0; i < 3; i++) {
      const reply = await postJson(`${api}/subscriptions/${sub.id}/replay`, {});
      expect(reply.status, reply.text).toBe(202);
      expect(reply.body).toEqual({ replayed: 600 });
    }
    expect((await postJson(`${api}/subscriptions/${sub.id}/resume`, {})).status).toBe(200);
    await r.waitUntil("1800 requests", (all) => all.length >= 1800, 30_000);
    await eventually("1800 delivered", async () => ((await countDeliveries(sub.id, "pending")) === 0 ? true : undefined));
    const perEvent = new Map<string, number>();
    for (const q of r.requests) perEvent.set(eventIdOf(q), (perEvent.get(eventIdOf(q)) ?? 0) + 1);
    expect(perEvent.size).toBe(posted.length);
    expect([...perEvent.values()].every((n) => n === 3)).toBe(true);
    expect((await request(`${api}/deliveries?subscription=${sub.id}&status=delivered&limit=1`)).status).toBe(200);
  });

  it("changing a subscription while deliveries flow never creates a second delivery of an event", { timeout: 60_000 }, async () => {
    const r = await receiver({ status: 200 });
    r.respond({ status: 200 }, 5);
    const topic = "rec.patch";
    const sub = await createSubscription(hub.url, { topic, url: r.url, max_in_flight: 4 });
    const publishing = publishMany(hub.url, topic, 600);
    // Every change restarts the subscription's worker while it reads the log and sends.
    for (let i = 0; i < 30; i++) {
      const reply = await request(`${api}/subscriptions/${sub.id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ headers: { "x-round": String(i) } }),
      });
      expect(reply.status, reply.text).toBe(200);
      await sleep(10);
    }
    const posted = await publishing;
    const want = new Set(posted.map((p) => p.id));
    await r.waitUntil("every event", (all) => new Set(all.map(eventIdOf)).size >= want.size, 30_000);
    // Duplicates may happen (a send in flight during a restart is sent again) but always as the same delivery.
    const webhookIds = new Map<string, Set<string>>();
    for (const q of r.requests) webhookIds.set(eventIdOf(q), (webhookIds.get(eventIdOf(q)) ?? new Set()).add(String(q.headers["webhook-id"])));
    expect([...webhookIds.keys()].filter((id) => !want.has(id))).toEqual([]);
    expect([...webhookIds].filter(([, ids]) => ids.size > 1).map(([id, ids]) => `${id}: ${[...ids].join(" ")}`)).toEqual([]);
    const rows = await getJson(`${api}/deliveries?subscription=${sub.id}&limit=1000`);
    expect(rows.data).toHaveLength(600);
  });
});
