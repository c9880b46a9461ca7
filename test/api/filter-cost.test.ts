import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

/** Issue 9: a costly filter stalled search for 29.5 s and `/health` with it. */
let hub: TestHub;

const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(",")}]`;
const NESTED = `!cel.bind(l,${hundred},l.all(a,l.all(b,l.all(c,l.all(d,true)))))`;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  // The largest events the default 1 MiB body allows, shaped to make each element fail (a number has no field).
  for (let i = 0; i < 3; i++) {
    const reply = await postJson(`${hub.url}/api/events`, { topic: "cost.big", data: { items: new Array(500_000).fill(0) } });
    expect(reply.status, reply.text).toBe(201);
  }
});
afterAll(() => hub?.close());

/** Times `/health` while `work` runs. */
async function healthDuring(work: Promise<unknown>): Promise<number> {
  let slowest = 0;
  let done = false;
  const probe = (async () => {
    while (!done) {
      const start = performance.now();
      expect((await request(`${hub.url}/health`)).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - start);
    }
  })();
  await work.finally(() => (done = true));
  await probe;
  return slowest;
}

describe("a filter over the cost limit", () => {
  it("is refused on search with 400 SB_FILTER_TOO_COSTLY naming the estimate and the limit; /health stays responsive", async () => {
    const search = request(`${hub.url}/api/events?topic=cost.big&filter=${encodeURIComponent(NESTED)}`);
    const health = await healthDuring(search);
    const reply = await search;
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      error: "filter too costly",
      code: "SB_FILTER_TOO_COSTLY",
      details: expect.stringMatching(/^the filter's estimated cost \d\.\de8 exceeds the limit 2\.0e5 even on the smallest event$/),
    });
    expect(health).toBeLessThan(1_000);
  });

  it("is refused the same way on streams and subscriptions", async () => {
    const stream = await request(`${hub.url}/events?topic=cost.big&filter=${encodeURIComponent(NESTED)}`, { headers: { accept: "text/event-stream" } });
    expect(stream.status).toBe(400);
    expect(stream.body.code).toBe("SB_FILTER_TOO_COSTLY");
    const sub = await postJson(`${hub.url}/api/subscriptions`, { url: "http://127.0.0.1:9/hook", topic: "cost.big", filter: NESTED });
    expect(sub.status, sub.text).toBe(400);
    expect(sub.body.code).toBe("SB_FILTER_TOO_COSTLY");
  });

  it("an accepted filter that runs over its budget on the largest events answers quickly, with no match", async () => {
    const search = request(`${hub.url}/api/events?topic=cost.big&filter=${encodeURIComponent("data.items.exists(i, i.price > 100)")}`);
    const health = await healthDuring(search);
    const reply = await search;
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.data).toEqual([]);
    expect(health).toBeLessThan(1_000);
  });
});
