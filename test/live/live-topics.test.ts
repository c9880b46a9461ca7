/**
 * Live-only topics (`storage: "none"`) over real HTTP, on SQLite and on PostgreSQL: events go to the open streams
 * and nowhere else (no events row, no search, no delivery), answer `seq: null, stored: false`, carry no `id:` line
 * (so a resume is not confused), and the storage can be switched both ways.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { openLiveSse, type SseConnection } from "../helpers/sse.js";

defineLiveTests("sqlite");
await describeWithPostgres("live-only topics on PostgreSQL", "runs live-only topics on PostgreSQL", () => defineLiveTests("postgres"));

function defineLiveTests(dialect: "sqlite" | "postgres"): void {
  describe(`live-only topics (${dialect})`, () => {
    let admin: pg.Client | undefined;
    let serial = 0;
    const databases: string[] = [];
    const hubs: TestHub[] = [];
    const conns: SseConnection[] = [];
    let receiver: Receiver | undefined;

    beforeAll(async () => {
      if (dialect !== "postgres") return;
      admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
    });

    afterEach(async () => {
      for (const conn of conns.splice(0)) {
        conn.close();
        await conn.closed;
      }
      for (const hub of hubs.splice(0)) await hub.close();
      await receiver?.close();
      receiver = undefined;
      for (const name of databases.splice(0)) await admin!.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });

    afterAll(async () => {
      await admin?.end();
    });

    async function startHub(): Promise<TestHub> {
      let databaseUrlOverride: { databaseUrl?: string } = {};
      if (dialect === "postgres") {
        const name = `switchboard_live_${process.pid}_${++serial}`;
        await admin!.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
        databases.push(name);
        databaseUrlOverride = { databaseUrl: databaseUrl(name) };
      }
      const hub = await startTestHub({ allowPrivateTargets: true, ...databaseUrlOverride });
      hubs.push(hub);
      return hub;
    }

    async function stream(hub: TestHub, path: string, headers: Record<string, string> = {}): Promise<SseConnection> {
      const conn = await openLiveSse(hub.url, path, { headers });
      conns.push(conn);
      return conn;
    }

    async function createTopic(hub: TestHub, body: Record<string, unknown>): Promise<any> {
      const reply = await postJson(`${hub.url}/api/topics`, body);
      expect(reply.status, reply.text).toBe(201);
      return reply.body;
    }

    const patchTopic = (hub: TestHub, name: string, body: unknown, method = "PATCH") =>
      request(`${hub.url}/api/topics/${name}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

    it("creates, shows and changes a topic's storage (default log), and refuses another value", async () => {
      const hub = await startHub();
      expect((await createTopic(hub, { name: "plain" })).storage).toBe("log");
      expect(await createTopic(hub, { name: "ticks", storage: "none" })).toMatchObject({ name: "ticks", storage: "none", event_count: 0 });
      expect((await request(`${hub.url}/api/topics/ticks`)).body.storage).toBe("none");
      const listed = (await request(`${hub.url}/api/topics`)).body.data;
      expect(listed.map((t: any) => [t.name, t.storage])).toEqual([
        ["plain", "log"],
        ["ticks", "none"],
      ]);

      const bad = await postJson(`${hub.url}/api/topics`, { name: "odd", storage: "memory" });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ code: "SB_TOPIC_INVALID", details: 'storage must be "log" or "none"' });
      expect((await patchTopic(hub, "plain", { storage: "none" }, "PUT")).body.storage).toBe("none");
      expect((await patchTopic(hub, "plain", { storage: "log" })).body.storage).toBe("log");
      expect((await patchTopic(hub, "plain", { storage: 1 })).status).toBe(400);
    });

    it("sends a live event to the topic's streams without an id line, answers seq null, and stores nothing", async () => {
      const hub = await startHub();
      await createTopic(hub, { name: "ticks", storage: "none", schema: { type: "object", required: ["v"] } });
      const data = await stream(hub, "/events?topic=ticks");
      const envelope = await stream(hub, "/api/topics/ticks/stream?envelope=true");
      const other = await stream(hub, "/events?topic=elsewhere");

      const reply = await postJson(`${hub.url}/api/events?topic=ticks`, { v: 1 });
      expect(reply.status).toBe(201);
      expect(reply.body).toEqual({ id: expect.stringMatching(/^evt_[0-9A-Z]{26}$/), seq: null, topic: "ticks", stored: false });
      const id = reply.body.id as string;

      await data.waitForEvents(1);
      expect(data.text).toBe('retry: 2000\n: connected\n\ndata: {"v":1}\n\n');
      const [frame] = await envelope.waitForEvents(1);
      expect(frame!.id).toBeUndefined();
      expect(JSON.parse(frame!.data!)).toMatchObject({ id, seq: null, topic: "ticks", data: { v: 1 } });

      // The topic-scoped route and a batch answer the same way.
      const scoped = await postJson(`${hub.url}/api/topics/ticks/events`, { v: 2 });
      expect(scoped.body).toMatchObject({ seq: null, stored: false, topic: "ticks" });
      await data.waitForEvents(2);

      // The topic's schema applies; a refused event goes nowhere.
      const refused = await postJson(`${hub.url}/api/events?topic=ticks`, { w: 1 });
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe("SB_EVENT_SCHEMA_MISMATCH");

      // Nothing was written: no search result, no event by id, no count, no stats.
      expect(await listAllEvents(hub.url)).toEqual([]);
      expect((await request(`${hub.url}/api/events/${id}`)).status).toBe(404);
      expect((await request(`${hub.url}/api/topics/ticks`)).body).toMatchObject({ event_count: 0, last_event_at: null });
      const marker = await postJson(`${hub.url}/api/events?topic=elsewhere`, { marker: true });
      await other.waitForEvents(1);
      expect(other.events().map((f) => f.id)).toEqual([marker.body.id]);
      expect(data.events().map((f) => f.data)).toEqual(['{"v":1}', '{"v":2}']);
    });

    it("answers a batch mixing live and stored topics per event, in order, and stores only the stored ones", async () => {
      const hub = await startHub();
      await createTopic(hub, { name: "ticks", storage: "none" });
      const conn = await stream(hub, "/events?topic=ticks,orders");
      const reply = await postJson(`${hub.url}/api/events`, [
        { topic: "ticks", data: { n: 1 } },
        { topic: "orders", data: { n: 2 } },
        { topic: "ticks", data: { n: 3 } },
        { topic: "orders", data: { n: 4 } },
      ]);
      expect(reply.status).toBe(201);
      const results = reply.body as any[];
      expect(results.map((r) => [r.topic, r.seq === null, r.stored])).toEqual([
        ["ticks", true, false],
        ["orders", false, undefined],
        ["ticks", true, false],
        ["orders", false, undefined],
      ]);
      expect(results[3].seq).toBeGreaterThan(results[1].seq);
      const frames = await conn.waitForEvents(4);
      expect(frames.map((f) => f.data).sort()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']);
      // Stored events carry their id; live ones none.
      expect(frames.filter((f) => f.id !== undefined).map((f) => f.id)).toEqual([results[1].id, results[3].id]);
      expect((await listAllEvents(hub.url)).map((e) => e.id)).toEqual([results[1].id, results[3].id]);

      // A batch that fails as a whole sends none of its live events either.
      const failed = await postJson(`${hub.url}/api/events`, [
        { topic: "ticks", data: { n: 5 } },
        { topic: "bad topic", data: {} },
      ]);
      expect(failed.status).toBe(400);
      const marker = await postJson(`${hub.url}/api/events?topic=ticks`, { n: 6 });
      expect(marker.status).toBe(201);
      await conn.waitForEvents(5);
      expect(conn.events().map((f) => f.data)).not.toContain('{"n":5}');
    });

    it("keeps a stream's resume point on the last stored event: live frames have no id, and a resume replays stored events only", async () => {
      const hub = await startHub();
      await createTopic(hub, { name: "mix.live", storage: "none" });
      const conn = await stream(hub, "/events?topic=mix.*");
      const first = await postJson(`${hub.url}/api/events?topic=mix.log`, { n: 1 });
      await postJson(`${hub.url}/api/events?topic=mix.live`, { n: 2 });
      await conn.waitForEvents(2);
      // What a client (EventSource, the SDK) keeps as its Last-Event-ID: the last `id:` it saw.
      const lastId = conn
        .events()
        .map((f) => f.id)
        .filter((i) => i !== undefined)
        .pop();
      expect(lastId).toBe(first.body.id);
      conn.close();

      const missed = await postJson(`${hub.url}/api/events?topic=mix.log`, { n: 3 });
      await postJson(`${hub.url}/api/events?topic=mix.live`, { n: 4 });
      const resumed = await stream(hub, "/events?topic=mix.*", { "last-event-id": lastId! });
      const after = await postJson(`${hub.url}/api/events?topic=mix.live`, { n: 5 });
      expect(after.body.seq).toBeNull();
      const frames = await resumed.waitForEvents(2);
      expect(frames.map((f) => f.event ?? null)).toEqual([null, null]); // no switchboard.reset: the resume point was known
      expect(frames.map((f) => [f.id, f.data])).toEqual([
        [missed.body.id, '{"n":3}'],
        [undefined, '{"n":5}'],
      ]);
    });

    it("holds a live event that comes while a resuming stream replays, and sends it once, after the replay", async () => {
      const hub = await startHub();
      await createTopic(hub, { name: "tail.live", storage: "none" });
      const first = await postJson(`${hub.url}/api/events?topic=tail.log`, { i: -1 });
      // Enough stored events for several replay pages.
      for (let batch = 0; batch < 3; batch++) {
        const events = Array.from({ length: 1000 }, (_, i) => ({ topic: "tail.log", data: { i: batch * 1000 + i } }));
        expect((await postJson(`${hub.url}/api/events`, events)).status).toBe(201);
      }
      const resumed = await stream(hub, "/events?topic=tail.*", { "last-event-id": first.body.id });
      const live = await postJson(`${hub.url}/api/events?topic=tail.live`, { live: true });
      expect(live.body.seq).toBeNull();
      const frames = await resumed.waitForEvents(3001);
      const liveAt = frames.findIndex((f) => f.data === '{"live":true}');
      expect(liveAt).toBe(3000);
      expect(frames[liveAt]!.id).toBeUndefined();
      expect(frames.slice(0, 3000).map((f) => JSON.parse(f.data!).i)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
      // Sent once: a stored marker after it is the next frame.
      const marker = await postJson(`${hub.url}/api/events?topic=tail.log`, { marker: true });
      const [next] = (await resumed.waitForEvents(3002)).slice(3001);
      expect(next!.id).toBe(marker.body.id);
    });

    it("refuses subscriptions naming a live-only topic; a pattern matching one never gets its events", async () => {
      const hub = await startHub();
      receiver = await startReceiver();
      await createTopic(hub, { name: "pulse.live", storage: "none" });
      const refused = await postJson(`${hub.url}/api/subscriptions`, { topic: "pulse.live", url: receiver.url });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe("SB_TOPIC_LIVE_ONLY");
      expect(refused.body.details).toContain('"pulse.live" is live-only');
      const publisher = await postJson(`${hub.url}/api/publishers`, { active: true, type: "http", topic: "pulse.live", target: receiver.url });
      expect(publisher.body.code).toBe("SB_TOPIC_LIVE_ONLY");

      const pattern = await postJson(`${hub.url}/api/subscriptions`, { topic: "pulse.*", url: receiver.url });
      expect(pattern.status).toBe(201);
      // Moving an existing subscription onto a live-only topic is refused too.
      const moved = await request(`${hub.url}/api/subscriptions/${pattern.body.id}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ topic: "pulse.live" }),
      });
      expect(moved.status).toBe(409);

      await postJson(`${hub.url}/api/events?topic=pulse.live`, { n: 1 });
      const stored = await postJson(`${hub.url}/api/events?topic=pulse.log`, { n: 2 });
      await receiver.waitFor(1);
      const deliveries = (await request(`${hub.url}/api/deliveries?subscription_id=${pattern.body.id}`)).body.data;
      expect(deliveries.map((d: any) => d.event_id)).toEqual([stored.body.id]);
      expect(receiver.json()).toEqual([{ n: 2 }]);
    });

    it("switches a topic from log to live-only and back: stored events stay, new ones follow the storage of the moment", async () => {
      const hub = await startHub();
      receiver = await startReceiver();
      const before = await postJson(`${hub.url}/api/events?topic=shift`, { n: 1 });
      expect(before.body.seq).toEqual(expect.any(Number));

      const sub = await postJson(`${hub.url}/api/subscriptions`, { topic: "shift", url: receiver.url });
      const blocked = await patchTopic(hub, "shift", { storage: "none" });
      expect(blocked.status).toBe(409);
      expect(blocked.body.code).toBe("SB_TOPIC_LIVE_ONLY");
      expect(blocked.body.details).toContain(sub.body.id);
      expect((await request(`${hub.url}/api/topics/shift`)).body.storage).toBe("log");
      expect((await request(`${hub.url}/api/subscriptions/${sub.body.id}`, { method: "DELETE" })).status).toBe(204);

      expect((await patchTopic(hub, "shift", { storage: "none" })).body).toMatchObject({ storage: "none", event_count: 1 });
      const during = await postJson(`${hub.url}/api/events?topic=shift`, { n: 2 });
      expect(during.body).toMatchObject({ seq: null, stored: false });
      expect((await listAllEvents(hub.url, { topic: "shift" })).map((e) => e.id)).toEqual([before.body.id]);

      expect((await patchTopic(hub, "shift", { storage: "log" }, "PUT")).body.storage).toBe("log");
      const afterwards = await postJson(`${hub.url}/api/events?topic=shift`, { n: 3 });
      expect(afterwards.body.seq).toBeGreaterThan(before.body.seq);
      expect((await listAllEvents(hub.url, { topic: "shift" })).map((e) => e.id)).toEqual([before.body.id, afterwards.body.id]);
    });
  });
}
