import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishClosedBuckets } from "../../src/aggregation/publish-buckets.js";
import { eventually, listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

let hub: TestHub;
let api: string;

const order = (minute: number, region: string | undefined, amount: unknown, topic = "ca.orders.paid") => ({
  topic,
  time: `2024-03-01T10:${String(minute).padStart(2, "0")}:30Z`,
  data: { region, amount },
});

async function publish(events: unknown[]): Promise<void> {
  const reply = await postJson(`${api}/events`, events);
  expect(reply.status, reply.text).toBe(201);
}

async function read(name: string, query = "from=2024-03-01T10:00:00Z&to=2024-03-01T11:00:00Z") {
  const reply = await request(`${api}/aggregates/${name}?${query}`);
  expect(reply.status, reply.text).toBe(200);
  return reply.body;
}

const REVENUE = {
  name: "revenue",
  topic: "ca.orders.*",
  filter: "data.amount != 13",
  group_by: "data.region",
  metrics: ["count", "sum:data.amount", "avg:data.amount", "min:data.amount", "max:data.amount"],
  interval: "5m",
};

beforeAll(async () => {
  hub = await startTestHub();
  api = `${hub.url}/api`;
});
afterAll(() => hub.close());

describe("/api/aggregates", () => {
  it("creates an aggregate, counts the events committed from then on, and reads its buckets as /events/aggregate does", async () => {
    await publish([order(0, "eu", 1000)]); // before it: counted only by a backfill
    const created = await postJson(`${api}/aggregates`, REVENUE);
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: "revenue", topic: "ca.orders.*", group_by: "data.region", interval: "5m", backfill: null });
    await publish([order(1, "eu", 10), order(2, "eu", 30), order(3, "us", 5), order(4, "eu", 13), order(6, undefined, "x"), order(7, "us", 2, "ca.users")]);
    await publish([order(8, "us", 1)]);
    const body = await read("revenue");
    expect(body).toMatchObject({ name: "revenue", metrics: REVENUE.metrics });
    expect(body.buckets).toEqual([
      { t: "2024-03-01T10:00:00.000Z", group: "eu", count: 2, "sum:data.amount": 40, "avg:data.amount": 20, "min:data.amount": 10, "max:data.amount": 30 },
      { t: "2024-03-01T10:00:00.000Z", group: "us", count: 1, "sum:data.amount": 5, "avg:data.amount": 5, "min:data.amount": 5, "max:data.amount": 5 },
      {
        t: "2024-03-01T10:05:00.000Z",
        group: null,
        count: 1,
        "sum:data.amount": null,
        "avg:data.amount": null,
        "min:data.amount": null,
        "max:data.amount": null,
      },
      { t: "2024-03-01T10:05:00.000Z", group: "us", count: 1, "sum:data.amount": 1, "avg:data.amount": 1, "min:data.amount": 1, "max:data.amount": 1 },
    ]);
    expect((await read("revenue", "from=2024-03-01T10:05:00Z&to=2024-03-01T10:10:00Z")).buckets).toHaveLength(2);
    const tooLong = await request(`${api}/aggregates/revenue?from=2000-01-01&to=2024-03-01`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe("SB_QUERY_INVALID");
    const list = await request(`${api}/aggregates`);
    expect(list.body.data.map((a: { name: string }) => a.name)).toContain("revenue");
  });

  it("backfills the events stored before it in the background, with progress, counting each event once", async () => {
    await publish([order(20, "eu", 1), order(21, "eu", 2), order(22, "eu", 3, "ca.orders.refunded")]);
    const created = await postJson(`${api}/aggregates`, { name: "totals", topic: "ca.orders.**", metrics: "count,sum:data.amount", interval: "1h" });
    expect(created.status, created.text).toBe(201);
    await publish([order(30, "eu", 100)]); // after it: counted at commit
    const started = await postJson(`${api}/aggregates/totals/backfill`, { from: "2024-03-01T00:00:00Z" });
    expect(started.status, started.text).toBe(202);
    expect(started.body.backfill).toMatchObject({ state: "running", done: 0, from: "2024-03-01T00:00:00.000Z", to: null });
    expect(started.body.backfill.total).toBeGreaterThan(0);
    await publish([order(40, "eu", 1000)]); // during it: counted at commit only
    const done = await eventually("the backfill", async () => {
      const body = await read("totals");
      return body.backfill.state === "done" ? body : undefined;
    });
    expect(done.backfill.done).toBe(done.backfill.total);
    // Every ca.orders event of the hour: 1000 + 10 + 30 + 5 + 13 + "x" + 1 + 1 + 2 + 3 + 100 + 1000.
    expect(done.buckets).toEqual([{ t: "2024-03-01T10:00:00.000Z", count: 12, "sum:data.amount": 2165 }]);
    const again = await postJson(`${api}/aggregates/totals/backfill`, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("SB_AGGREGATE_BACKFILL_RUNNING");
  });

  it("publishes each closed bucket of an aggregate with publish: true as an event on switchboard.aggregate.<name>", async () => {
    const created = await postJson(`${api}/aggregates`, { name: "hourly", topic: "ca.pub", metrics: ["count"], interval: "1h", publish: true });
    expect(created.status, created.text).toBe(201);
    expect(created.body.publish).toBe(true);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    await publish([
      { topic: "ca.pub", time: new Date(hour + 1_000).toISOString(), data: {} },
      { topic: "ca.pub", time: new Date(hour + 2_000).toISOString(), data: {} },
    ]);
    const { hub: running } = hub.server;
    // Two rounds at once (as two nodes would), when the hour is closed: the bucket is stored once, its id being derived from it.
    const round = () => publishClosedBuckets(running.store, (events) => running.publish(events), hour + 2 * 3_600_000);
    await Promise.all([round(), round()]);
    const events = await listAllEvents(hub.url, { topic: "switchboard.aggregate.hourly" });
    expect(events.map((e) => e.data)).toEqual([{ aggregate: "hourly", interval: "1h", t: new Date(hour).toISOString(), count: 2 }]);
  });

  it("deletes an aggregate (204), then answers 404 for it", async () => {
    await postJson(`${api}/aggregates`, { name: "doomed", topic: "ca.orders.paid", metrics: ["count"], interval: "1m" });
    expect((await request(`${api}/aggregates/doomed`, { method: "DELETE" })).status).toBe(204);
    for (const [method, path] of [
      ["GET", "doomed"],
      ["DELETE", "doomed"],
      ["POST", "doomed/backfill"],
    ] as const) {
      const reply = await request(`${api}/aggregates/${path}`, {
        method,
        ...(method === "POST" && { body: "{}", headers: { "content-type": "application/json" } }),
      });
      expect(reply.status, `${method} ${path}`).toBe(404);
      expect(reply.body.code).toBe("SB_AGGREGATE_NOT_FOUND");
    }
  });

  it("refuses a name taken (409) and bad definitions (400 naming the field)", async () => {
    const dup = await postJson(`${api}/aggregates`, REVENUE);
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe("SB_AGGREGATE_EXISTS");
    const base = { name: "bad", topic: "ca.orders.paid", metrics: ["count"], interval: "1h" };
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ ...base, metrics: ["p95:data.latency"] }, "SB_AGGREGATE_INVALID", "metrics"],
      [{ ...base, metrics: ["median:data.x"] }, "SB_AGGREGATE_INVALID", "metrics"],
      [{ ...base, interval: "2h" }, "SB_AGGREGATE_INVALID", "interval"],
      [{ ...base, name: "Bad Name" }, "SB_AGGREGATE_INVALID", "name"],
      [{ ...base, topic: "a..b" }, "SB_AGGREGATE_INVALID", "topic"],
      [{ ...base, group_by: "amount" }, "SB_AGGREGATE_INVALID", "group_by"],
      [{ ...base, colour: "red" }, "SB_AGGREGATE_INVALID", "colour"],
      [{ ...base, filter: "data.amount >" }, "SB_FILTER_INVALID", ""],
    ];
    for (const [body, code, field] of cases) {
      const reply = await postJson(`${api}/aggregates`, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.code, JSON.stringify(body)).toBe(code);
      expect(reply.body.details).toContain(field);
    }
    const missing = await postJson(`${api}/aggregates`, { name: "bad", topic: "ca.orders.paid", interval: "1h" });
    expect(missing.status).toBe(400);
    expect(missing.body.details).toContain("metrics");
  });
});
