import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type ReceivedRequest, type Receiver } from "../helpers/receiver.js";
import { createSubscription, publish } from "../helpers/webhooks.js";

let hub: TestHub;
const receivers: Receiver[] = [];

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
});
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});
afterAll(() => hub?.close());

/** Many short retries: a delivery stays alive for a few seconds of failures. */
const PATIENT_RETRY = { schedule: [0, ...Array.from({ length: 49 }, () => 0.2)] };

const bodyOf = (r: ReceivedRequest) => JSON.parse(r.body) as { k: string; n: number; poison?: boolean };

describe("ordering", () => {
  it('"key": events of a key arrive in order; a failing key does not block another key', async () => {
    let releaseA = false;
    const r = await startReceiver((req) => (bodyOf(req).k === "A" && !releaseA ? { status: 500 } : { status: 200 }));
    receivers.push(r);
    const topic = "ord.key";
    await createSubscription(hub.url, { topic, url: r.url, ordering: "key", max_in_flight: 8, retry: PATIENT_RETRY });
    const events = [];
    for (let n = 1; n <= 5; n++) {
      events.push({ topic, key: "A", data: { k: "A", n } }, { topic, key: "B", data: { k: "B", n } });
    }
    await publish(hub.url, events);

    // Every B arrives (and is answered 200) while A is still failing: B is not blocked behind A.
    const bs = await r.waitFor(5, 10_000, (q) => bodyOf(q).k === "B");
    expect(bs.every((q) => q.answered === 200 || q.answered === null)).toBe(true);
    // Make sure A really failed at least once before being released.
    await r.waitFor(2, 10_000, (q) => bodyOf(q).k === "A");
    expect(r.requests.filter((q) => bodyOf(q).k === "A" && q.answered === 200)).toHaveLength(0);
    releaseA = true;

    await r.waitUntil("every A delivered", (all) => new Set(all.filter((q) => bodyOf(q).k === "A" && q.answered === 200).map((q) => bodyOf(q).n)).size === 5);
    // While A1 was failing nothing else of key A was sent: the A requests, in arrival order, never go backwards.
    const aOrder = r.requests.filter((q) => bodyOf(q).k === "A").map((q) => bodyOf(q).n);
    expect(aOrder[0]).toBe(1);
    expect(aOrder).toEqual([...aOrder].sort((x, y) => x - y));
    expect(new Set(aOrder)).toEqual(new Set([1, 2, 3, 4, 5]));
    // B too, in order, each once.
    expect(r.requests.filter((q) => bodyOf(q).k === "B").map((q) => bodyOf(q).n)).toEqual([1, 2, 3, 4, 5]);
  });

  it('"none": one failing event blocks nothing else', async () => {
    const r = await startReceiver((req) => (req.body.includes('"poison":true') ? { status: 500 } : { status: 200 }));
    receivers.push(r);
    const topic = "ord.none";
    const sub = await createSubscription(hub.url, { topic, url: r.url, ordering: "none", max_in_flight: 1, retry: PATIENT_RETRY });
    // The same key everywhere: with ordering "none" the key must not matter.
    const events = [{ topic, key: "same", data: { k: "P", n: 0, poison: true } }];
    for (let n = 1; n <= 20; n++) events.push({ topic, key: "same", data: { k: "C", n, poison: false } });
    const [poison] = await publish(hub.url, events);

    const clean = await r.waitFor(20, 10_000, (q) => !bodyOf(q).poison);
    expect(new Set(clean.map((q) => bodyOf(q).n)).size).toBe(20);
    // The poison event is still being retried: it did not have to die for the others to pass.
    const deliveries = await eventually("the poison delivery", async () => {
      const page = await request(`${hub.url}/api/deliveries?subscription=${sub.id}&event=${encodeURIComponent(poison!.id)}`);
      return page.body?.data?.[0];
    });
    expect(["pending", "retrying"]).toContain(deliveries.status);
  });
});
