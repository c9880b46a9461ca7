import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Switchboard, SwitchboardError, type EventOut } from "../../src/client/index.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";

let source: TestHub;
let target: TestHub;

beforeAll(async () => {
  [source, target] = await Promise.all([startTestHub(), startTestHub()]);
});
afterAll(async () => {
  await Promise.all([source.close(), target.close()]);
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** An event as an import keeps it: everything but seq and received_at, which the target assigns. */
const kept = ({ seq: _seq, received_at: _received, ...rest }: EventOut) => rest;

describe("POST /api/events/import", () => {
  it("moves events between hubs with their ids, times and data; a second import stores nothing", async () => {
    const from = new Switchboard({ url: source.url });
    const to = new Switchboard({ url: target.url });
    await to.publish("moved.a", { already: "here" }); // the target has events of its own: seqs differ
    await from.publishBatch([
      { topic: "moved.a", data: { n: 1, exact: 1.5e300 }, time: "2024-05-06T07:08:09.123Z", key: "k", type: "t" },
      { topic: "moved.b", data: [1, "two", null], attributes: { a: "b" }, source: "/src", subject: "s" },
    ]);
    const exported = await collect(from.events.search({ topic: "moved.*", limit: 1 }));
    const progress: number[] = [];
    expect(await to.events.import(exported, { batchSize: 1, onProgress: (p) => progress.push(p.sent) })).toEqual({ imported: 2, skipped: 0 });
    expect(progress).toEqual([1, 2]);
    const imported = await Promise.all(exported.map((e) => to.events.get(e.id)));
    expect(imported.map(({ deliveries: _d, ...e }) => kept(e))).toEqual(exported.map(kept));
    expect(imported[0]!.seq).not.toBe(exported[0]!.seq);
    expect(await to.events.import(exported)).toEqual({ imported: 0, skipped: 2 });
    expect(await collect(to.events.search({ topic: "moved.*" }))).toHaveLength(3);
  });

  it("takes NDJSON, and refuses events without an id", async () => {
    const to = new Switchboard({ url: target.url });
    const lines = [
      { id: "nd-1", topic: "nd.x", data: { a: 1 }, seq: 99, received_at: "2020-01-01T00:00:00Z" },
      { id: "nd-2", topic: "nd.x", data: 2 },
    ];
    const res = await fetch(`${target.url}/api/events/import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: lines.map((l) => JSON.stringify(l)).join("\n") + '\n{"id":"nd-3","topic":"nd.x","data":{"exact": 1.50}}\n',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ imported: 3, skipped: 0 });
    // The data is stored as sent (compacted), as a publish stores it.
    expect(await (await fetch(`${target.url}/api/events/nd-3`)).text()).toContain('"data":{"exact":1.50}');
    expect((await to.events.get("nd-1")).data).toEqual({ a: 1 });
    const error = (await to.events.import([{ topic: "nd.x", data: 1 }]).catch((e: unknown) => e)) as SwitchboardError;
    expect(error).toMatchObject({ code: "SB_EVENT_INVALID", status: 400 });
    expect(error.details).toContain("[0]: an imported event must have its id");
    const elsewhere = await fetch(`${target.url}/api/events`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: '{"a":1}\n' });
    expect(elsewhere.status).toBe(415);
    const bad = await fetch(`${target.url}/api/events/import`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: '{"id":"x"}\n{oops',
    });
    expect(((await bad.json()) as { code: string; details: string }).details).toContain("line 2");
  });

  it("needs the admin scope", async () => {
    const hub = await startTestHub();
    try {
      const admin = await new Switchboard({ url: hub.url }).keys.create({ scopes: ["admin"] });
      const publisher = await new Switchboard({ url: hub.url, token: admin.token }).keys.create({ scopes: ["publish:*"] });
      const error = await new Switchboard({ url: hub.url, token: publisher.token }).events.import([{ id: "a", topic: "x", data: 1 }]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "SB_AUTH_FORBIDDEN", status: 403 });
    } finally {
      await hub.close();
    }
  });
});
