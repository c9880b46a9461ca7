import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ulidTime } from "../ids.js";
import { EVENT_LIMITS } from "./limits.js";
import { DEFAULT_TOPIC, eventsFromJson, isEnvelope, type IngestContext } from "./normalize.js";
import { ctx, expectHubError, JAN_1_2025, RECEIVED_AT } from "../../test/helpers/ingest-context.js";

/** The one event of a non-batch JSON body. */
function one(body: unknown, context: IngestContext = ctx()) {
  const { events, batch } = eventsFromJson(body, context);
  expect(batch).toBe(false);
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe("envelope detection", () => {
  it("takes {topic, data} as an envelope", () => {
    const e = one({ topic: "orders", data: { amount: 5 } });
    expect(e).toEqual({
      id: expect.stringMatching(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/),
      clientId: false,
      topic: "orders",
      type: null,
      source: null,
      subject: null,
      time: RECEIVED_AT,
      key: null,
      dataJson: '{"amount":5}',
      data: { amount: 5 },
      attributes: {},
      receivedAt: RECEIVED_AT,
    });
    expect(ulidTime(e.id)).toBe(RECEIVED_AT);
  });

  it("fills every envelope field", () => {
    const e = one({
      topic: "orders",
      type: "order.created",
      id: "order-42",
      key: "customer-7",
      source: "shop",
      subject: "order/42",
      time: "2025-01-01T00:00:00Z",
      data: [1, "two"],
      attributes: { region: "eu" },
    });
    expect(e).toEqual({
      id: "order-42",
      clientId: true,
      topic: "orders",
      type: "order.created",
      source: "shop",
      subject: "order/42",
      time: JAN_1_2025,
      key: "customer-7",
      dataJson: '[1,"two"]',
      data: [1, "two"],
      attributes: { region: "eu" },
      receivedAt: RECEIVED_AT,
    });
  });

  // [body, is an envelope]
  const table: Array<[unknown, boolean]> = [
    [{ topic: "orders", data: {} }, true],
    [{ data: 1 }, true],
    [{ data: null }, true],
    [{ payload: { x: 1 } }, true],
    [{ type: "t", key: "k", payload: 1 }, true],
    [{ msg: "data", timestamp: "2025-01-01T00:00:00Z" }, false],
    [{ user_id: 123, name: "Ada" }, false],
    [{ topic: "orders", type: "created" }, false], // no data: the object is the data
    [{ data: 1, extra: 2 }, false], // a key outside the envelope's
    [{ data: 1, timestamp: "2025-01-01" }, false],
    [JSON.parse('{"data": 1, "__proto__": {"topic": "x"}}'), false],
    [[{ data: 1 }], false],
    ["data", false],
    [42, false],
    [null, false],
  ];

  it.each(table)("isEnvelope(%j) is %s", (body, expected) => {
    expect(isEnvelope(body)).toBe(expected);
  });

  it("takes any other JSON value as the data itself", () => {
    const body = { msg: "data", timestamp: "2025-01-01T00:00:00Z" };
    const e = one(body);
    expect(e.data).toEqual(body);
    expect(e.dataJson).toBe(JSON.stringify(body));
    expect(e.time).toBe(RECEIVED_AT); // a data field named timestamp is not the event time
    expect(e.topic).toBe(DEFAULT_TOPIC);

    expect(one({ user_id: 123, topic: "orders" }).data).toEqual({ user_id: 123, topic: "orders" });
    expect(one({ user_id: 123, topic: "orders" }).topic).toBe(DEFAULT_TOPIC);
    expect(one({ data: 1, extra: 2 }).data).toEqual({ data: 1, extra: 2 });
    expect(one(42).dataJson).toBe("42");
    expect(one("hello").dataJson).toBe('"hello"');
    expect(one(null).dataJson).toBe("null");
    expect(one(true).data).toBe(true);
  });

  it("uses payload as an alias of data", () => {
    const e = one({ topic: "orders", payload: { amount: 5 } });
    expect(e.data).toEqual({ amount: 5 });
    expect(e.dataJson).toBe('{"amount":5}');
    expect(e.topic).toBe("orders");
  });

  it("keeps a null data", () => {
    const e = one({ topic: "orders", data: null });
    expect(e.data).toBeNull();
    expect(e.dataJson).toBe("null");
  });

  it("refuses data and payload together", () => {
    expectHubError(() => eventsFromJson({ data: 1, payload: 2 }, ctx()), "SB_EVENT_INVALID", "give either data or payload, not both");
  });

  it("takes the whole body as data when the path fixes the topic", () => {
    const body = { topic: "other", data: { a: 1 } };
    const e = one(body, ctx({ topic: "orders", bodyIsData: true }));
    expect(e.topic).toBe("orders");
    expect(e.data).toEqual(body);
  });
});

describe("batches", () => {
  it("takes an array as a batch of envelopes and data", () => {
    const { events, batch } = eventsFromJson([{ topic: "a", data: 1 }, { user_id: 7 }, [1, 2]], ctx());
    expect(batch).toBe(true);
    expect(events.map((e) => [e.topic, e.dataJson])).toEqual([
      ["a", "1"],
      [DEFAULT_TOPIC, '{"user_id":7}'],
      [DEFAULT_TOPIC, "[1,2]"],
    ]);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(3);
    expect([...ids].sort()).toEqual(ids); // generated ids sort in batch order
  });

  it("refuses an empty batch", () => {
    expectHubError(() => eventsFromJson([], ctx()), "SB_EVENT_INVALID", "the batch is empty");
  });

  it("refuses a batch over the limit with 413", () => {
    const error = expectHubError(() => eventsFromJson([1, 2, 3, 4], ctx()), "SB_EVENT_BATCH_TOO_LARGE", "the batch has 4 events; at most 3 are allowed");
    expect(error.status).toBe(413);
    expect(eventsFromJson([1, 2, 3], ctx()).events).toHaveLength(3);
  });

  it("names the position of the event at fault", () => {
    expectHubError(() => eventsFromJson([{ data: 1 }, { data: 2, id: 5 }], ctx()), "SB_EVENT_INVALID", "event [1]: id must be a string, got number");
    expectHubError(() => eventsFromJson([{ data: 1 }, { data: 2 }, { topic: "a b", data: 3 }], ctx()), "SB_TOPIC_INVALID", /^event \[2\]: topic name "a b"/);
  });
});

describe("topics", () => {
  it("defaults to the request's topic, then to default", () => {
    expect(one({ data: 1 }, ctx({ topic: "orders" })).topic).toBe("orders");
    expect(one({ data: 1 }).topic).toBe("default");
    expect(one({ data: 1, topic: null }).topic).toBe("default");
  });

  it("accepts a body topic equal to the request's", () => {
    expect(one({ topic: "orders", data: 1 }, ctx({ topic: "orders" })).topic).toBe("orders");
  });

  it("refuses a body topic other than the request's", () => {
    expectHubError(
      () => eventsFromJson({ topic: "users", data: 1 }, ctx({ topic: "orders" })),
      "SB_EVENT_INVALID",
      'the event names topic "users" but the request names "orders"',
    );
  });

  it.each<[unknown, RegExp]>([
    ["bad topic", /^topic name "bad topic" must be 1-200 characters/],
    ["", /^topic name "" must be 1-200 characters/],
    ["orders..created", /empty segment/],
    ["orders.*", /must be 1-200 characters/],
    ["x".repeat(201), /must be 1-200 characters/],
    [5, /^a topic name must be a string$/],
    [{ name: "orders" }, /^a topic name must be a string$/],
  ])("refuses the topic %j", (topic, details) => {
    const error = expectHubError(() => eventsFromJson({ topic, data: 1 }, ctx()), "SB_TOPIC_INVALID", details);
    expect(error.status).toBe(400);
  });

  it("checks every event's topic, the same valid name repeated or not", () => {
    const valid = [1, 2].map((data) => ({ topic: "t.ok", data }));
    expect(eventsFromJson(valid, ctx()).events.map((e) => e.topic)).toEqual(["t.ok", "t.ok"]);
    const batch = [...valid, { topic: "t.ok.", data: 3 }];
    expectHubError(() => eventsFromJson(batch, ctx()), "SB_TOPIC_INVALID", /^event \[2\]: topic name "t.ok." has an empty segment/);
    for (let i = 0; i < 2; i++) expectHubError(() => eventsFromJson({ topic: "a b", data: 1 }, ctx()), "SB_TOPIC_INVALID", /"a b"/);
  });

  it("refuses a bad request topic", () => {
    expectHubError(() => eventsFromJson({ data: 1 }, ctx({ topic: "no spaces" })), "SB_TOPIC_INVALID", /"no spaces"/);
  });
});

describe("fields", () => {
  it.each<[string, unknown, string]>([
    ["id", 5, "id must be a string, got number"],
    ["type", {}, "type must be a string, got object"],
    ["key", [], "key must be a string, got array"],
    ["source", true, "source must be a string, got boolean"],
    ["subject", "", "subject must not be empty"],
    ["id", "", "id must not be empty"],
    ["id", "a\u0000b", "id must not contain control characters"],
    ["id", "a\nb", "id must not contain control characters"],
    ["type", "a\r\nb", "type must not contain line breaks"],
  ])("refuses %s = %j", (field, value, details) => {
    expectHubError(() => eventsFromJson({ data: 1, [field]: value }, ctx()), "SB_EVENT_INVALID", details);
  });

  it("takes null as absent", () => {
    const e = one({ data: 1, id: null, type: null, key: null, source: null, subject: null, time: null, attributes: null });
    expect(e.clientId).toBe(false);
    expect(e.id).toMatch(/^evt_/);
    expect([e.type, e.key, e.source, e.subject]).toEqual([null, null, null, null]);
    expect(e.time).toBe(RECEIVED_AT);
    expect(e.attributes).toEqual({});
  });

  const limits: Array<[string, number]> = [
    ["id", EVENT_LIMITS.idLength],
    ["type", EVENT_LIMITS.typeLength],
    ["source", EVENT_LIMITS.sourceLength],
    ["subject", EVENT_LIMITS.subjectLength],
    ["key", EVENT_LIMITS.keyLength],
  ];

  it.each(limits)("holds %s to %i characters", (field, max) => {
    const fits = one({ data: 1, [field]: "x".repeat(max) });
    expect((fits as unknown as Record<string, string>)[field]).toHaveLength(max);
    expectHubError(
      () => eventsFromJson({ data: 1, [field]: "x".repeat(max + 1) }, ctx()),
      "SB_EVENT_INVALID",
      `${field} is ${max + 1} characters; at most ${max} are allowed`,
    );
  });

  it("has the limits docs/events.md lists", () => {
    const events = readFileSync(new URL("../../docs/events.md", import.meta.url), "utf8");
    const docs = events.slice(events.indexOf("### Limits"));
    const listed = (what: string) =>
      Number(
        /^(\d+) /.exec(
          docs
            .split("\n")
            .find((line) => line.startsWith(`| ${what} | `))
            ?.slice(what.length + 5) ?? "",
        )?.[1],
      );
    const rows: Record<keyof typeof EVENT_LIMITS, string> = {
      idLength: "`id`",
      typeLength: "`type`",
      sourceLength: "`source`",
      subjectLength: "`subject`",
      keyLength: "`key`",
      attributeCount: "`attributes`",
      attributeNameLength: "an attribute name",
      attributeValueLength: "an attribute value",
      idempotencyKeyLength: "the `Idempotency-Key` header",
    };
    for (const [limit, row] of Object.entries(rows)) expect([row, listed(row)]).toEqual([row, EVENT_LIMITS[limit as keyof typeof EVENT_LIMITS]]);
    expect(Object.isFrozen(EVENT_LIMITS)).toBe(true);
  });
});

describe("time", () => {
  it.each<[unknown, number]>([
    ["2025-01-01T00:00:00Z", JAN_1_2025],
    ["2025-01-01T01:00:00+01:00", JAN_1_2025],
    ["2025-01-01 00:00:00", JAN_1_2025],
    ["2025-01-01", JAN_1_2025],
    [1735689600, JAN_1_2025],
    [1735689600000, JAN_1_2025],
    ["1735689600", JAN_1_2025],
  ])("reads %j", (time, expected) => {
    expect(one({ data: 1, time }).time).toBe(expected);
  });

  it.each<unknown>(["garbage", "2025-02-30", true, { at: 1 }, [2025], -5])("refuses %j", (time) => {
    expectHubError(
      () => eventsFromJson({ data: 1, time }, ctx()),
      "SB_EVENT_INVALID",
      `time ${JSON.stringify(time)} is not a recognised time (use RFC 3339, e.g. 2025-01-01T00:00:00Z, or epoch seconds/ms)`,
    );
  });
});

describe("attributes", () => {
  it("turns numbers and booleans into strings", () => {
    expect(one({ data: 1, attributes: { s: "x", n: 5, f: 1.5, b: false } }).attributes).toEqual({ s: "x", n: "5", f: "1.5", b: "false" });
  });

  it.each<[unknown, string]>([
    [{ n: null }, "attributes.n must be a string"],
    [{ o: { a: 1 } }, "attributes.o must be a string"],
    [{ l: ["a"] }, "attributes.l must be a string"],
    [["a"], "attributes must be an object of strings"],
    ["region=eu", "attributes must be an object of strings"],
    [5, "attributes must be an object of strings"],
    [{ "": "x" }, `attribute names must be 1-${EVENT_LIMITS.attributeNameLength} characters`],
    [{ ["n".repeat(EVENT_LIMITS.attributeNameLength + 1)]: "x" }, `attribute names must be 1-${EVENT_LIMITS.attributeNameLength} characters`],
    [
      { v: "x".repeat(EVENT_LIMITS.attributeValueLength + 1) },
      `attributes.v is ${EVENT_LIMITS.attributeValueLength + 1} characters; at most ${EVENT_LIMITS.attributeValueLength} are allowed`,
    ],
  ])("refuses %#", (attributes, details) => {
    expectHubError(() => eventsFromJson({ data: 1, attributes }, ctx()), "SB_EVENT_INVALID", details);
  });

  it("holds the count, name and value to their limits", () => {
    const many = Object.fromEntries(Array.from({ length: EVENT_LIMITS.attributeCount }, (_, i) => [`a${i}`, "v"]));
    expect(Object.keys(one({ data: 1, attributes: many }).attributes)).toHaveLength(EVENT_LIMITS.attributeCount);
    expectHubError(
      () => eventsFromJson({ data: 1, attributes: { ...many, extra: "v" } }, ctx()),
      "SB_EVENT_INVALID",
      `attributes has ${EVENT_LIMITS.attributeCount + 1} entries; at most ${EVENT_LIMITS.attributeCount} are allowed`,
    );
    const name = "n".repeat(EVENT_LIMITS.attributeNameLength);
    const value = "v".repeat(EVENT_LIMITS.attributeValueLength);
    expect(one({ data: 1, attributes: { [name]: value } }).attributes[name]).toBe(value);
  });

  it("keeps __proto__ as a plain key", () => {
    const body = JSON.parse('{"data": 1, "attributes": {"__proto__": "x", "region": "eu"}}');
    const attributes = one(body).attributes;
    expect(Object.keys(attributes)).toEqual(["__proto__", "region"]);
    expect(Object.getOwnPropertyDescriptor(attributes, "__proto__")?.value).toBe("x");
    expect(JSON.stringify(attributes)).toBe('{"__proto__":"x","region":"eu"}');
    expect(({} as Record<string, unknown>).region).toBeUndefined(); // nothing leaked into Object.prototype
  });

  it("refuses a __proto__ attribute that is an object", () => {
    const body = JSON.parse('{"data": 1, "attributes": {"__proto__": {"polluted": "yes"}}}');
    expectHubError(() => eventsFromJson(body, ctx()), "SB_EVENT_INVALID", "attributes.__proto__ must be a string");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
