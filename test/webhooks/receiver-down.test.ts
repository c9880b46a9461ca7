import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, eventIdOf, publishMany, sleep } from "../helpers/webhooks.js";

let hub: TestHub;

async function getJsonOrUndefined(url: string): Promise<any> {
  const reply = await request(url);
  return reply.status === 200 ? reply.body : undefined;
}
let receiver: Receiver;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await hub?.close();
});

describe("receiver down for a while, then up (Postoffice buffering)", () => {
  // 200 fit in the subscription's read-ahead; 1500 do not, so most wait in the log behind the open breaker.
  it.each([200, 1500])("delivers each of %i events at least once after the receiver comes back on the same port", { timeout: 60_000 }, async (count) => {
    const topic = `down.buffer${count}`;
    // Enough retries to outlast the outage: 0.2 s, then 0.5 s apart, for about 20 s.
    const sub = await createSubscription(hub.url, { topic, url: receiver.url, retry: { schedule: [0, 0.2, ...Array.from({ length: 40 }, () => 0.5)] } });
    const port = receiver.port;
    await receiver.stop();

    const posted = await publishMany(hub.url, topic, count, (i) => ({ i }));
    // The hub has noticed: attempts failed and deliveries wait for their retry.
    await eventually("failed attempts while the receiver is down", async () => {
      const page = await getJsonOrUndefined(`${hub.url}/api/deliveries?subscription=${sub.id}&status=retrying&limit=1`);
      return page?.data?.length > 0 ? true : undefined;
    });
    const before = receiver.requests.length;
    await sleep(500);
    expect(receiver.requests).toHaveLength(before);

    await receiver.start();
    expect(receiver.port).toBe(port);
    await receiver.waitUntil(
      `all ${count} events`,
      (all) => new Set(all.filter((q) => String(q.headers["ce-type"]) === topic).map(eventIdOf)).size >= count,
      45_000,
    );
    const mine = receiver.requests.filter((q) => String(q.headers["ce-type"]) === topic);
    expect(new Set(mine.map(eventIdOf))).toEqual(new Set(posted.map((p) => p.id)));
    expect(new Set(mine.map((q) => (JSON.parse(q.body) as { i: number }).i)).size).toBe(count);
    await eventually("every delivery delivered", async () => {
      const page = await getJsonOrUndefined(`${hub.url}/api/deliveries?subscription=${sub.id}&status=pending&limit=1`);
      const retrying = await getJsonOrUndefined(`${hub.url}/api/deliveries?subscription=${sub.id}&status=retrying&limit=1`);
      return page?.data?.length === 0 && retrying?.data?.length === 0 ? true : undefined;
    });
  });
});
