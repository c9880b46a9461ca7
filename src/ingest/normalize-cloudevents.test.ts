import { describe, expect, it } from "vitest";
import { DEFAULT_TOPIC, eventFromCloudEventHeaders, eventsFromCloudEvents } from "./normalize.js";
import { ctx, expectHubError, JAN_1_2025, RECEIVED_AT } from "../../test/helpers/ingest-context.js";

/** What both modes make of the same order CloudEvent (subject, time, topic, partition key, data); tests add id and attributes. */
const ORDER_EVENT = {
  clientId: true,
  topic: "orders",
  type: "order.created",
  source: "/shop",
  subject: "order/42",
  time: JAN_1_2025,
  key: "customer-7",
  dataJson: '{"amount":5}',
  data: { amount: 5 },
  receivedAt: RECEIVED_AT,
};

describe("CloudEvents structured mode", () => {
  const base = { specversion: "1.0", id: "ce-1", source: "/shop", type: "order.created" };

  it("maps the context; extensions become attributes, partitionkey the key", () => {
    const { events, batch } = eventsFromCloudEvents(
      {
        ...base,
        subject: "order/42",
        time: "2025-01-01T00:00:00Z",
        datacontenttype: "application/json",
        dataschema: "https://example.com/order.json",
        topic: "orders",
        partitionkey: "customer-7",
        region: "eu",
        priority: 5,
        data: { amount: 5 },
      },
      ctx(),
      false,
    );
    expect(batch).toBe(false);
    expect(events).toEqual([
      {
        ...ORDER_EVENT,
        id: "ce-1",
        attributes: {
          region: "eu",
          priority: "5",
          datacontenttype: "application/json",
          dataschema: "https://example.com/order.json",
        },
      },
    ]);
  });

  it("takes a missing data as null and the request's topic", () => {
    const [e] = eventsFromCloudEvents(base, ctx({ topic: "orders" }), false).events;
    expect(e!.data).toBeNull();
    expect(e!.dataJson).toBe("null");
    expect(e!.topic).toBe("orders");
    expect(e!.time).toBe(RECEIVED_AT);
    expect(e!.attributes).toEqual({});
  });

  it.each<[Record<string, unknown>, string | RegExp]>([
    [{ ...base, specversion: "0.3" }, 'specversion must be "1.0", got "0.3"'],
    [{ ...base, specversion: undefined }, 'specversion must be "1.0", got undefined'],
    [{ ...base, id: undefined }, "CloudEvents requires a non-empty string id"],
    [{ ...base, source: "" }, "CloudEvents requires a non-empty string source"],
    [{ ...base, type: 5 }, "CloudEvents requires a non-empty string type"],
    [{ ...base, data_base64: "aGVsbG8=" }, "data_base64 is not supported; send the data as JSON"],
    [{ ...base, region: { a: 1 } }, "attributes.region must be a string"],
    [{ ...base, time: "yesterday" }, /^time "yesterday" is not a recognised time/],
  ])("refuses %#", (ce, details) => {
    expectHubError(() => eventsFromCloudEvents(ce, ctx(), false), "SB_EVENT_INVALID", details);
  });

  it("refuses a body that is not an object", () => {
    expectHubError(() => eventsFromCloudEvents([base], ctx(), false), "SB_EVENT_INVALID", "a CloudEvent must be a JSON object");
    expectHubError(() => eventsFromCloudEvents("x", ctx(), false), "SB_EVENT_INVALID", "a CloudEvent must be a JSON object");
  });

  it("reads a batch", () => {
    const { events, batch } = eventsFromCloudEvents([base, { ...base, id: "ce-2", topic: "orders" }], ctx(), true);
    expect(batch).toBe(true);
    expect(events.map((e) => [e.id, e.topic])).toEqual([
      ["ce-1", DEFAULT_TOPIC],
      ["ce-2", "orders"],
    ]);
  });

  it("refuses a batch that is not an array, empty, too large, or holds a bad event", () => {
    expectHubError(() => eventsFromCloudEvents(base, ctx(), true), "SB_EVENT_INVALID", "a CloudEvents batch must be a JSON array");
    expectHubError(() => eventsFromCloudEvents([], ctx(), true), "SB_EVENT_INVALID", "the batch is empty");
    expectHubError(() => eventsFromCloudEvents([base, base, base, base], ctx(), true), "SB_EVENT_BATCH_TOO_LARGE", /has 4 events/);
    expectHubError(
      () => eventsFromCloudEvents([base, { ...base, id: "" }], ctx(), true),
      "SB_EVENT_INVALID",
      "event [1]: CloudEvents requires a non-empty string id",
    );
  });
});

describe("CloudEvents binary mode", () => {
  const headers = { "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/shop", "ce-type": "order.created" };

  it("maps ce-* headers; extensions become attributes, partitionkey the key", () => {
    const e = eventFromCloudEventHeaders(
      {
        ...headers,
        "ce-subject": "order/42",
        "ce-time": "2025-01-01T00:00:00Z",
        "ce-topic": "orders",
        "ce-partitionkey": "customer-7",
        "ce-region": "eu",
        "ce-tags": ["a", "b"],
        "ce-datacontenttype": "application/json",
        "content-type": "application/json",
        "x-other": "ignored",
      },
      { amount: 5 },
      ctx(),
    );
    expect(e).toEqual({ ...ORDER_EVENT, id: "b-1", attributes: { region: "eu", tags: "a,b" } });
  });

  it.each<[Record<string, string | undefined>, string]>([
    [{ ...headers, "ce-specversion": "0.3" }, 'ce-specversion must be "1.0", got "0.3"'],
    [{ ...headers, "ce-specversion": undefined }, 'ce-specversion must be "1.0", got undefined'],
    [{ ...headers, "ce-id": undefined }, "CloudEvents binary mode requires the ce-id header"],
    [{ ...headers, "ce-source": "" }, "CloudEvents binary mode requires the ce-source header"],
    [{ ...headers, "ce-type": undefined }, "CloudEvents binary mode requires the ce-type header"],
  ])("refuses %#", (h, details) => {
    expectHubError(() => eventFromCloudEventHeaders(h, 1, ctx()), "SB_EVENT_INVALID", details);
  });

  it("refuses a bad time, a conflicting topic and a missing body", () => {
    expectHubError(() => eventFromCloudEventHeaders({ ...headers, "ce-time": "soon" }, 1, ctx()), "SB_EVENT_INVALID", /time "soon"/);
    expectHubError(
      () => eventFromCloudEventHeaders({ ...headers, "ce-topic": "users" }, 1, ctx({ topic: "orders" })),
      "SB_EVENT_INVALID",
      /names topic "users" but the request names "orders"/,
    );
    expectHubError(() => eventFromCloudEventHeaders(headers, undefined, ctx()), "SB_EVENT_INVALID", "the event has no data");
  });
});
