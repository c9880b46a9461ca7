import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type ReceivedRequest, type Receiver } from "../helpers/receiver.js";
import { createSubscription, eventIdOf, publish, sleep } from "../helpers/webhooks.js";

let hub: TestHub;
let receiver: Receiver;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await hub?.close();
});

/** Requests that came to `?tag=…`. */
const at = (tag: string) => (r: ReceivedRequest) => new URL(r.path, "http://x").searchParams.get("tag") === tag;

/** The parts of an event a row sets; the topic is the row's own. */
interface RowEvent {
  data: unknown;
  type?: string;
  key?: string;
  subject?: string;
  attributes?: Record<string, string>;
}

const ROWS: Array<[RowEvent, string, boolean]> = [
  [{ data: { amount: 150 } }, "data.amount > 100", true],
  [{ data: { amount: 50 } }, "data.amount > 100", false],
  [{ data: { other: 1 } }, "data.amount > 100", false], // missing field: no match, not an error
  [{ data: "just a string" }, "data.amount > 100", false], // wrong type: no match
  [{ data: { customer: { country: "FR" } } }, 'data.customer.country in ["FR", "DE"]', true],
  [{ data: { customer: { country: "US" } } }, 'data.customer.country in ["FR", "DE"]', false],
  [{ data: { tags: ["a", "b"] } }, '"b" in data.tags', true],
  [{ data: { tags: ["a"] } }, '"b" in data.tags', false],
  [{ data: {}, attributes: { region: "eu" } }, 'attributes.region == "eu"', true],
  [{ data: {}, attributes: { region: "us" } }, 'attributes.region == "eu"', false],
  [{ data: {} }, 'attributes["priority"] == "high"', false], // no such attribute
  [{ data: { amount: 150 }, attributes: { region: "eu" } }, 'data.amount > 100 && attributes.region == "eu"', true],
  [{ data: { amount: 150 }, attributes: { region: "us" } }, 'data.amount > 100 && attributes.region == "eu"', false],
  [{ data: { amount: 1 }, attributes: { region: "us" } }, 'data.amount > 100 || attributes.region == "us"', true],
  [{ data: {}, type: "order.created" }, 'type == "order.created"', true],
  [{ data: {}, type: "order.cancelled" }, 'type == "order.created"', false],
  [{ data: {}, key: "customer-7" }, 'key == "customer-7"', true],
  [{ data: {}, subject: "orders/1001" }, 'subject.startsWith("orders/")', true],
  [{ data: {}, subject: "invoices/9" }, 'subject.startsWith("orders/")', false],
  [{ data: { n: 1e20 } }, "data.n > 1000", true],
];

describe("filters", () => {
  it("delivers exactly the events each filter selects", async () => {
    // One subscription per row. Each filter is widened by a sentinel clause that is false for the row's event (it
    // has no "sentinel" attribute), so the row decides; the sentinel event, posted last, matches every subscription
    // and with max_in_flight 1 arrives after anything the row's event produced.
    const subs = [];
    for (const [i, [, filter]] of ROWS.entries()) {
      subs.push(
        await createSubscription(hub.url, {
          topic: `flt.row${i}`,
          url: `${receiver.url}?tag=row${i}`,
          filter: `"sentinel" in attributes || (${filter})`,
          max_in_flight: 1,
        }),
      );
    }
    const posted = await publish(
      hub.url,
      ROWS.map(([event], i) => ({ topic: `flt.row${i}`, ...event })),
    );
    const sentinels = await publish(
      hub.url,
      ROWS.map((_, i) => ({ topic: `flt.row${i}`, data: {}, attributes: { sentinel: "1" } })),
    );

    for (const [i] of ROWS.entries()) await receiver.waitFor(1, 10_000, (r) => at(`row${i}`)(r) && eventIdOf(r) === sentinels[i]!.id);
    const outcome = ROWS.map(([, filter], i) => {
      const got = receiver.requests.filter(at(`row${i}`)).map(eventIdOf);
      return { row: i, filter, delivered: got.includes(posted[i]!.id), requests: got.length };
    });
    const expected = ROWS.map(([, filter, delivered], i) => ({ row: i, filter, delivered, requests: delivered ? 2 : 1 }));
    expect(outcome).toEqual(expected);
    expect(subs).toHaveLength(ROWS.length);
  });
});

describe("start positions", () => {
  it('"now" (default) skips older events, "beginning" delivers all stored ones, a time delivers those received after it', async () => {
    const topic = "start.pos";
    const old = await publish(
      hub.url,
      [1, 2, 3].map((n) => ({ topic, data: { n } })),
    );
    await sleep(30);
    const cut = new Date().toISOString();
    await sleep(30);
    const middle = await publish(
      hub.url,
      [4, 5].map((n) => ({ topic, data: { n } })),
    );

    const url = (tag: string) => `${receiver.url}?tag=${tag}`;
    await createSubscription(hub.url, { topic, url: url("default"), max_in_flight: 1 });
    await createSubscription(hub.url, { topic, url: url("now"), start: "now", max_in_flight: 1 });
    await createSubscription(hub.url, { topic, url: url("beginning"), start: "beginning", max_in_flight: 1 });
    await createSubscription(hub.url, { topic, url: url("time"), start: cut, max_in_flight: 1 });

    const fresh = await publish(
      hub.url,
      [6, 7].map((n) => ({ topic, data: { n } })),
    );
    const last = fresh[fresh.length - 1]!.id;
    // max_in_flight 1 and log order: once the last event has arrived everything before it has.
    for (const tag of ["default", "now", "beginning", "time"]) await receiver.waitFor(1, 10_000, (r) => at(tag)(r) && eventIdOf(r) === last);
    const ids = (tag: string) => receiver.requests.filter(at(tag)).map(eventIdOf);
    const idsOf = (list: Array<{ id: string }>) => list.map((e) => e.id);

    expect(ids("default")).toEqual(idsOf(fresh));
    expect(ids("now")).toEqual(idsOf(fresh));
    expect(ids("beginning")).toEqual(idsOf([...old, ...middle, ...fresh]));
    expect(ids("time")).toEqual(idsOf([...middle, ...fresh]));
  });

  it("answers 400 for a start that is not now, beginning or a time", async () => {
    const reply = await postJson(`${hub.url}/api/subscriptions`, { topic: "start.bad", url: receiver.url, start: "whenever" });
    expect(reply.status, reply.text).toBe(400);
  });
});
