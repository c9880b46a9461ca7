import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type JsonReply, type TestHub } from "../helpers/hub.js";

let hub: TestHub;
let api: string;

/** Seeded events by label, in the order of their `time`. */
const SEED = [
  { label: "o1", topic: "orders.created", type: "created", key: "c1", time: "2024-03-01T10:00:00Z", data: { order_id: 1, amount: 50, user_id: 123 } },
  { label: "o2", topic: "orders.created", type: "created", key: "c2", time: "2024-03-01T11:00:00Z", data: { order_id: 2, amount: 150, user_id: "123" } },
  { label: "s1", topic: "orders.shipped", type: "shipped", key: "c1", time: "2024-03-01T12:00:00Z", data: { order_id: 1, amount: 50, user_id: 1234 } },
  { label: "u1", topic: "users.signup", type: "signup", key: "c3", time: "2024-03-02T00:00:00Z", data: { user_id: 123, plan: "pro" } },
  { label: "e1", topic: "orders.eu.created", type: "created", key: "c4", time: "2024-03-02T09:30:00Z", data: { order_id: 3, amount: 500 } },
  { label: "o3", topic: "orders.created", type: "created", key: "c1", time: "2024-03-03T00:00:00Z", data: { order_id: 4, amount: 101.5, user_id: 7 } },
] as const;
const idOf = new Map<string, string>();
const labelOf = new Map<string, string>();

beforeAll(async () => {
  hub = await startTestHub();
  api = `${hub.url}/api`;
  // Published out of time order, so that seq order and time order differ.
  for (const e of [...SEED].reverse()) {
    const { label, ...envelope } = e;
    const reply = await postJson(`${api}/events`, envelope);
    if (reply.status !== 201) throw new Error(reply.text);
    idOf.set(label, reply.body.id);
    labelOf.set(reply.body.id, label);
  }
});
afterAll(() => hub.close());

/** Runs a search given as a raw query string and returns the labels of the page. */
async function search(query: string): Promise<string[]> {
  const reply = await request(`${api}/events?${query}`);
  expect(reply.status, `GET /api/events?${query}: ${reply.text}`).toBe(200);
  expect(Object.keys(reply.body).sort()).toEqual(["data", "next_cursor"]);
  return reply.body.data.map((e: { id: string }) => labelOf.get(e.id) ?? e.id);
}

describe("GET /api/events", () => {
  it.each([
    ["one topic", "topic=orders.created", ["o1", "o2", "o3"]],
    ["repeated topic", "topic=orders.created&topic=users.signup", ["o1", "o2", "u1", "o3"]],
    ["comma-separated topics", "topic=orders.created,users.signup", ["o1", "o2", "u1", "o3"]],
    ["a one-segment pattern", "topic=orders.*", ["o1", "o2", "s1", "o3"]],
    ["a many-segment pattern", "topic=orders.**", ["o1", "o2", "s1", "e1", "o3"]],
    ["a pattern and a name", "topic=*.signup&topic=orders.shipped", ["s1", "u1"]],
    ["type", "type=created", ["o1", "o2", "e1", "o3"]],
    ["key", "key=c1", ["o1", "s1", "o3"]],
    ["type and topic", "type=created&topic=orders.*", ["o1", "o2", "o3"]],
  ])("selects by %s", async (_, query, expected) => {
    expect(await search(query)).toEqual(expected);
  });

  const twice = encodeURIComponent(encodeURIComponent("2024-03-01T11:00:00+00:00"));
  it.each([
    ["RFC 3339", "from=2024-03-01T11:00:00Z&to=2024-03-02T00:00:00Z"],
    ["RFC 3339 with fraction", "from=2024-03-01T11:00:00.000Z&to=2024-03-01T23:59:59.999Z"],
    ["RFC 3339 with an offset, + sent raw", "from=2024-03-01T12:00:00+01:00&to=2024-03-02T01:00:00+01:00"],
    ["RFC 3339 with an offset, + encoded", "from=2024-03-01T06:00:00-05:00&to=2024-03-02T00:00:00%2B00:00"],
    ["2006-01-02 15:04:05", "from=2024-03-01%2011:00:00&to=2024-03-02%2000:00:00"],
    ["a date alone", "from=2024-03-01T11:00:00Z&to=2024-03-02"],
    ["epoch seconds", "from=1709290800&to=1709337600"],
    ["epoch milliseconds", "from=1709290800000&to=1709337600000"],
    ["URL-encoded twice", `from=${twice}&to=2024-03-02`],
  ])("selects a time range given as %s (from inclusive, to exclusive)", async (_, query) => {
    expect(await search(`${query}&topic=orders.**&topic=users.signup`)).toEqual(["o2", "s1"]);
  });

  it("takes from alone and to alone", async () => {
    expect(await search("from=2024-03-02&topic=orders.**&topic=users.signup")).toEqual(["u1", "e1", "o3"]);
    expect(await search("to=2024-03-01T11:00:00Z&topic=orders.**&topic=users.signup")).toEqual(["o1"]);
  });

  it.each(["yesterday", "2024-13-01", "2024-02-30", "12:00", "2024-03-01T25:00:00Z", "-5"])(
    "answers an invalid time %j with 400 invalid time format",
    async (value) => {
      const reply = await request(`${api}/events?from=${encodeURIComponent(value)}`);
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual({ error: "invalid time format", details: expect.stringContaining("from"), code: "SB_QUERY_INVALID_TIME" });
    },
  );

  it("answers from after to with 400", async () => {
    const reply = await request(`${api}/events?from=2024-03-02&to=2024-03-01`);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_QUERY_INVALID_TIME");
  });

  it("orders newest first with order=desc", async () => {
    expect(await search("topic=orders.created&order=desc")).toEqual(["o3", "o2", "o1"]);
    const bad = await request(`${api}/events?order=sideways`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("SB_QUERY_INVALID");
  });

  it("filters with CEL", async () => {
    expect(await search(`topic=orders.**&filter=${encodeURIComponent("data.amount > 100")}`)).toEqual(["o2", "e1", "o3"]);
    expect(await search(`filter=${encodeURIComponent('topic.startsWith("orders.") && data.order_id == 1')}`)).toEqual(["o1", "s1"]);
    expect(await search(`filter=${encodeURIComponent('type == "signup" && data.plan == "pro"')}`)).toEqual(["u1"]);
    expect(await search(`topic=orders.**&filter=${encodeURIComponent('key in ["c2", "c4"]')}`)).toEqual(["o2", "e1"]);
  });

  it("answers an invalid filter with 400 SB_FILTER_INVALID", async () => {
    const reply = await request(`${api}/events?filter=${encodeURIComponent("data.amount >")}`);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("SB_FILTER_INVALID");
    expect(reply.body.error).toBe("invalid filter");
  });

  it("treats other parameters as equality on data fields, numbers matching numbers", async () => {
    expect(await search("user_id=123")).toEqual(["o1", "o2", "u1"]);
    expect(await search("user_id=1234")).toEqual(["s1"]);
    expect(await search("plan=pro")).toEqual(["u1"]);
    expect(await search("order_id=1&topic=orders.shipped")).toEqual(["s1"]);
    expect(await search("amount=101.5")).toEqual(["o3"]);
    expect(await search("plan=basic")).toEqual([]);
    const bad = await request(`${api}/events?${encodeURIComponent("a.b")}=1`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("SB_QUERY_INVALID");
  });

  it("limits the page and hands out a cursor", async () => {
    const reply = await request(`${api}/events?topic=orders.**&limit=2`);
    expect(reply.status).toBe(200);
    expect(reply.body.data.map((e: { id: string }) => labelOf.get(e.id))).toEqual(["o1", "o2"]);
    expect(typeof reply.body.next_cursor).toBe("string");
    const next = await search(`topic=orders.**&limit=2&cursor=${reply.body.next_cursor}`);
    expect(next).toEqual(["s1", "e1"]);
    for (const limit of ["0", "1001", "ten"]) {
      const bad = await request(`${api}/events?limit=${limit}`);
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe("SB_QUERY_INVALID");
    }
    const badCursor = await request(`${api}/events?cursor=not-a-cursor`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.code).toBe("SB_QUERY_INVALID_CURSOR");
  });

  it("returns events in the envelope shape", async () => {
    const reply = await request(`${api}/events?topic=users.signup`);
    expect(reply.body.data).toEqual([
      {
        id: idOf.get("u1"),
        seq: expect.any(Number),
        topic: "users.signup",
        type: "signup",
        source: null,
        subject: null,
        time: "2024-03-02T00:00:00.000Z",
        key: "c3",
        data: { user_id: 123, plan: "pro" },
        attributes: {},
        received_at: expect.stringMatching(/Z$/),
      },
    ]);
    expect(reply.body.next_cursor).toBeNull();
  });
});

describe("cursor pagination", () => {
  const TOPIC = "page.walk";
  /** Expected order: by (time, seq). */
  let expected: string[] = [];

  beforeAll(async () => {
    // 12 events sharing one time (ties across page boundaries), then 19 whose times run backwards.
    const tied = Array.from({ length: 12 }, (_, i) => ({ topic: TOPIC, time: "2030-01-01T00:00:00Z", data: { i } }));
    const backwards = Array.from({ length: 19 }, (_, j) => ({
      topic: TOPIC,
      time: new Date(Date.UTC(2030, 0, 2) - j * 60_000).toISOString(),
      data: { i: 12 + j },
    }));
    const rows: Array<{ id: string; seq: number; time: number }> = [];
    for (const batch of [tied, backwards.slice(0, 10), backwards.slice(10)]) {
      const reply = await postJson(`${api}/events`, batch);
      if (reply.status !== 201) throw new Error(reply.text);
      reply.body.forEach((r: { id: string; seq: number }, k: number) => rows.push({ ...r, time: Date.parse(batch[k]!.time) }));
    }
    expected = rows.sort((a, b) => a.time - b.time || a.seq - b.seq).map((r) => r.id);
  });

  async function walk(query: string): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const reply: JsonReply = await request(`${api}/events?${query}${cursor ? `&cursor=${cursor}` : ""}`);
      expect(reply.status, reply.text).toBe(200);
      ids.push(...reply.body.data.map((e: { id: string }) => e.id));
      cursor = reply.body.next_cursor;
      pages++;
      expect(pages).toBeLessThan(100);
    } while (cursor);
    return { ids, pages };
  }

  it("walks every page ascending with no duplicate and no gap", async () => {
    const { ids, pages } = await walk(`topic=${TOPIC}&limit=5`);
    expect(ids).toEqual(expected);
    expect(new Set(ids).size).toBe(31);
    expect(pages).toBe(7);
  });

  it("walks every page descending with no duplicate and no gap", async () => {
    const { ids } = await walk(`topic=${TOPIC}&limit=4&order=desc`);
    expect(ids).toEqual([...expected].reverse());
  });

  it("walks pages of a filtered search", async () => {
    const all = await request(`${api}/events?topic=${TOPIC}&limit=1000`);
    const even = all.body.data.filter((e: { data: { i: number } }) => e.data.i % 2 === 0).map((e: { id: string }) => e.id);
    const { ids } = await walk(`topic=${TOPIC}&limit=3&filter=${encodeURIComponent("int(data.i) % 2 == 0")}`);
    expect(ids).toEqual(even);
    expect(ids).toHaveLength(16);
  });

  it("walks pages of a pattern search with limit 1", async () => {
    const { ids } = await walk(`topic=page.*&limit=1`);
    expect(ids).toEqual(expected);
  });
});

describe("GET /api/events/{id}", () => {
  it("returns the event, 200", async () => {
    const reply = await request(`${api}/events/${idOf.get("o2")}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ id: idOf.get("o2"), topic: "orders.created", data: { order_id: 2, amount: 150, user_id: "123" } });
  });

  it("answers an unknown id with 404 SB_EVENT_NOT_FOUND", async () => {
    const reply = await request(`${api}/events/evt_00000000000000000000000000`);
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: "event not found", details: expect.stringContaining("evt_00000000000000000000000000"), code: "SB_EVENT_NOT_FOUND" });
  });
});
