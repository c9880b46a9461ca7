/**
 * Live-only topics with two hubs on one PostgreSQL database: an event published on one node reaches the streams of
 * the other (NOTIFY with the event as payload) and is stored by neither; a topic made live-only on one node is
 * live-only on the other; an event too large for NOTIFY is refused with 413 before anything is sent.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import { eventually, listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import { openLiveSse, type SseConnection } from "../helpers/sse.js";

await describeWithPostgres("live-only topics in a cluster", "sends live events across two nodes", defineTests);

function defineTests(): void {
  let admin: pg.Client;
  let serial = 0;
  const databases: string[] = [];
  const hubs: TestHub[] = [];
  const streams: SseConnection[] = [];

  async function newDatabase(): Promise<string> {
    const name = `switchboard_live_cluster_${process.pid}_${++serial}`;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
    databases.push(name);
    return databaseUrl(name);
  }

  async function node(url: string, overrides: Partial<Config> = {}): Promise<TestHub> {
    const hub = await startTestHub({ databaseUrl: url, ...overrides });
    hubs.push(hub);
    return hub;
  }

  async function stream(hub: TestHub, path: string): Promise<SseConnection> {
    const conn = await openLiveSse(hub.url, path);
    streams.push(conn);
    return conn;
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
  });

  afterEach(async () => {
    for (const conn of streams.splice(0)) conn.close();
    for (const hub of hubs.splice(0)) await hub.close();
    for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  afterAll(async () => {
    await admin.end();
  });

  it("sends a live event published on one node to the streams of both, with the same bytes, and stores it on neither", async () => {
    const url = await newDatabase();
    const a = await node(url);
    const b = await node(url);
    expect((await postJson(`${a.url}/api/topics`, { name: "ticks", storage: "none" })).status).toBe(201);
    const onA = await stream(a, "/events?topic=ticks");
    const onB = await stream(b, "/events?topic=ticks");
    const envelopeOnB = await stream(b, "/events?topic=ticks&envelope=true");

    // Data as sent, spaces and key order kept: the other node's frame carries the very same text.
    const fromA = await postJson(`${a.url}/api/events?topic=ticks`, '{"n": 1,  "z":"é", "a":[1,2]}');
    expect(fromA.body).toMatchObject({ seq: null, stored: false });
    await onA.waitForEvents(1);
    await onB.waitForEvents(1);
    expect(onB.text).toBe(onA.text);
    const [frame] = await envelopeOnB.waitForEvents(1);
    expect(frame!.id).toBeUndefined();
    expect(JSON.parse(frame!.data!)).toMatchObject({ id: fromA.body.id, seq: null, topic: "ticks", data: { n: 1, z: "é", a: [1, 2] } });

    // B learnt that the topic is live-only from A's announcement: its publishes are live too, and reach A. (Until B has
    // read the announcement, a publish on B would be stored: those are told apart by their seq.)
    const fromB = await eventually("node B to treat ticks as live-only", async () => {
      const reply = await postJson(`${b.url}/api/events?topic=ticks`, { n: 2 });
      expect(reply.status).toBe(201);
      return reply.body.seq === null ? reply : undefined;
    });
    expect(fromB.body.stored).toBe(false);
    await onA.waitFor("B's live event on A", () => onA.events().some((f) => f.data === '{"n":2}' && f.id === undefined));

    // Straight from the database: no row of either live event.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client
      .query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE id = ANY($1)`, [[fromA.body.id, fromB.body.id]])
      .finally(() => client.end());
    expect(Number(rows[0]!.n)).toBe(0);
    expect((await request(`${b.url}/api/topics/ticks`)).body.storage).toBe("none");
  });

  it("refuses with 413 a live event too large for NOTIFY, before anything is sent or stored", async () => {
    const url = await newDatabase();
    const a = await node(url);
    const b = await node(url);
    await postJson(`${a.url}/api/topics`, { name: "big", storage: "none" });
    const onB = await stream(b, "/events?topic=big,marker");
    const tooLarge = await postJson(`${a.url}/api/events`, [
      { topic: "marker", data: { first: true } },
      { topic: "big", data: { pad: "x".repeat(8000) } },
    ]);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe("SB_LIVE_EVENT_TOO_LARGE");
    expect(tooLarge.body.details).toContain("NOTIFY");

    const fits = await postJson(`${a.url}/api/events?topic=big`, { pad: "y".repeat(7000) });
    expect(fits.status).toBe(201);
    const [frame] = await onB.waitForEvents(1);
    expect(frame!.data).toBe(`{"pad":"${"y".repeat(7000)}"}`);
    // The refused batch stored nothing, its stored half included.
    expect(await listAllEvents(a.url)).toEqual([]);
  });
}
