import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aggregateEvents } from "../../src/aggregation/aggregate-events.js";
import { HubError } from "../../src/errors.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { makeEvent } from "../store/conformance/index.js";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

let hub: TestHub;
let api: string;

const SEED = [
  { topic: "agg.orders.created", time: "2024-03-01T10:05:00Z", data: { action: "buy", amount: 10, latency_ms: 5 } },
  { topic: "agg.orders.created", time: "2024-03-01T10:20:00Z", data: { action: "buy", amount: 30, latency_ms: 50 } },
  { topic: "agg.orders.created", time: "2024-03-01T10:40:00Z", data: { action: "sell", amount: 5.5, latency_ms: 7 } },
  { topic: "agg.orders.paid", time: "2024-03-01T11:10:00Z", data: { action: "buy", amount: "12", latency_ms: 9 } },
  { topic: "agg.orders.paid", time: "2024-03-01T11:30:00Z", data: { action: "buy", latency_ms: 100 } },
  { topic: "agg.orders.eu.created", time: "2024-03-01T11:45:00Z", data: { action: "sell", amount: 100, latency_ms: 1 } },
  { topic: "agg.users", time: "2024-03-01T10:00:00Z", data: { amount: 1000 } },
];

beforeAll(async () => {
  hub = await startTestHub();
  api = `${hub.url}/api`;
  const reply = await postJson(`${api}/events`, SEED);
  if (reply.status !== 201) throw new Error(reply.text);
});
afterAll(() => hub.close());

const RANGE = "from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z";

async function aggregate(query: string) {
  const reply = await request(`${api}/events/aggregate?${RANGE}&${query}`);
  expect(reply.status, reply.text).toBe(200);
  return reply.body;
}

describe("GET /api/events/aggregate", () => {
  it("computes exact metrics per hour and group, skipping and counting missing or non-numeric fields", async () => {
    const body = await aggregate(
      "topic=agg.orders.*&interval=1h&group_by=data.action&metrics=count,sum:data.amount,avg:data.amount,min:data.amount,max:data.amount,p95:data.latency_ms",
    );
    expect(body.buckets).toEqual([
      {
        t: "2024-03-01T10:00:00.000Z",
        group: "buy",
        count: 2,
        "sum:data.amount": 40,
        "avg:data.amount": 20,
        "min:data.amount": 10,
        "max:data.amount": 30,
        "p95:data.latency_ms": 50,
      },
      {
        t: "2024-03-01T10:00:00.000Z",
        group: "sell",
        count: 1,
        "sum:data.amount": 5.5,
        "avg:data.amount": 5.5,
        "min:data.amount": 5.5,
        "max:data.amount": 5.5,
        "p95:data.latency_ms": 7,
      },
      {
        t: "2024-03-01T11:00:00.000Z",
        group: "buy",
        count: 2,
        "sum:data.amount": null,
        "avg:data.amount": null,
        "min:data.amount": null,
        "max:data.amount": null,
        "p95:data.latency_ms": 100,
      },
    ]);
    // "12" is a string and the second paid order has no amount: skipped, counted once per field.
    expect(body.skipped).toEqual({ "data.amount": 2 });
    expect(body.scanned).toBe(6);
    expect(body.ran_in).toBe("hub"); // orders.* is checked in the hub
  });

  it("without an interval gives one bucket for the range; groups by an envelope field; count is the default", async () => {
    const body = await aggregate("topic=agg.**&group_by=topic");
    expect(body.buckets).toEqual([
      { t: "2024-03-01T00:00:00.000Z", group: "agg.orders.created", count: 3 },
      { t: "2024-03-01T00:00:00.000Z", group: "agg.orders.eu.created", count: 1 },
      { t: "2024-03-01T00:00:00.000Z", group: "agg.orders.paid", count: 2 },
      { t: "2024-03-01T00:00:00.000Z", group: "agg.users", count: 1 },
    ]);
    expect(body.skipped).toEqual({});
    expect(body.ran_in).toBe("database");
  });

  it("gives the same answer in the database as in the hub", async () => {
    const query = "topic=agg.orders.**&interval=1h&group_by=data.action&metrics=count,sum:data.amount,avg:data.amount,min:data.amount,max:data.amount";
    const inDatabase = await aggregate(query);
    const inHub = await aggregate(`${query}&filter=true`);
    expect(inDatabase.ran_in).toBe("database");
    expect(inHub.ran_in).toBe("hub");
    expect(inDatabase.buckets).toEqual(inHub.buckets);
    expect(inDatabase.skipped).toEqual({ "data.amount": 2 });
    expect(inHub.skipped).toEqual(inDatabase.skipped);
    expect(inDatabase.buckets).toHaveLength(4);
  });

  it("applies a CEL filter and gives percentiles by nearest rank", async () => {
    const body = await aggregate("topic=agg.**&filter=" + encodeURIComponent("data.latency_ms > 5") + "&metrics=count,p50:data.latency_ms,p99:data.latency_ms");
    expect(body.buckets).toEqual([{ t: "2024-03-01T00:00:00.000Z", count: 4, "p50:data.latency_ms": 9, "p99:data.latency_ms": 100 }]);
  });

  it.each([
    ["metrics=sum:amount", /metrics: "amount" is not a data field/],
    ["metrics=median:data.amount", /unknown operation "median"/],
    ["metrics=sum", /is not count or <op>:data.<field>/],
    ["group_by=data.", /group_by: "data." is not a data field/],
    ["interval=1w", /interval must be one of/],
    ["filter=" + encodeURIComponent("data.x >"), /./],
    ["bogus=1", /bogus/],
  ])("refuses %s with a 400 naming the parameter", async (query, details) => {
    const reply = await request(`${api}/events/aggregate?${RANGE}&${query}`);
    expect(reply.status).toBe(400);
    expect(reply.body.details).toMatch(details);
  });
});

describe("the aggregation's budgets", () => {
  it("answers SB_AGGREGATE_TOO_COSTLY stating the budgets once it has read more events than its row budget, or for longer than its time budget", async () => {
    const store = openSqliteStore({ path: ":memory:" });
    await store.migrate();
    try {
      const events = Array.from({ length: 5 }, (_, i) => makeEvent("budget", { time: 1_000 + i, data: { n: i } }));
      await store.events.append([{ events, createTopics: true }]);
      // A CEL filter: the events are read and aggregated in the hub, within the budgets.
      const input = { topics: ["budget"], from: 0, to: 10_000, metrics: "sum:data.n", filter: "data.n >= 0" };
      expect((await aggregateEvents(store, input, 10_000, { rowBudget: 5 })).buckets[0]!.values).toEqual({ "sum:data.n": 10 });
      const rows = await aggregateEvents(store, input, 10_000, { rowBudget: 4 }).catch((e: unknown) => e);
      expect(rows).toBeInstanceOf(HubError);
      expect((rows as HubError).code).toBe("SB_AGGREGATE_TOO_COSTLY");
      expect((rows as HubError).message).toMatch(/more than 4 events \(its row budget\); budgets: 4 events, 5000 ms/);
      let clock = 0;
      const slow = await aggregateEvents(store, input, 10_000, { timeBudgetMs: 100, clock: () => (clock += 150) }).catch((e: unknown) => e);
      expect((slow as HubError).message).toMatch(/for more than 100 ms \(its time budget\)/);
    } finally {
      await store.close();
    }
  });
});
