/**
 * Several hubs on one PostgreSQL database, in this process: commits of one node reach the streams and the
 * dispatcher of the others (LISTEN/NOTIFY), and roles split the API from webhook delivery.
 * PostgreSQL is found at DATABASE_URL_TEST; when it cannot be reached, CI fails and a laptop skips with a note.
 */
import pg from "pg";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { openLiveSse, type SseConnection } from "../helpers/sse.js";
import { createSubscription, eventIdOf, publish, sleep } from "../helpers/webhooks.js";

await describeWithPostgres("cluster", "runs several hubs on one PostgreSQL database", defineClusterTests);

function defineClusterTests(): void {
  let admin: pg.Client;
  let serial = 0;
  const databases: string[] = [];
  const hubs: TestHub[] = [];
  const streams: SseConnection[] = [];
  let receiver: Receiver | undefined;

  /** A new, empty database; dropped after the test. */
  async function newDatabase(): Promise<string> {
    const name = `switchboard_cluster_${process.pid}_${++serial}`;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
    databases.push(name);
    return databaseUrl(name);
  }

  async function node(url: string, overrides: Partial<Config> = {}): Promise<TestHub> {
    const hub = await startTestHub({ databaseUrl: url, logLevel: "silent", allowPrivateTargets: true, ...overrides });
    hubs.push(hub);
    return hub;
  }

  async function stream(hub: TestHub, path: string, headers: Record<string, string> = {}): Promise<SseConnection> {
    const conn = await openLiveSse(hub.url, path, { headers });
    streams.push(conn);
    return conn;
  }

  const idsOf = (conn: SseConnection) => conn.events().map((f) => f.id);

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
  });

  afterEach(async () => {
    for (const conn of streams.splice(0)) conn.close();
    for (const hub of hubs.splice(0)) await hub.close();
    await receiver?.close();
    receiver = undefined;
    for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  afterAll(async () => {
    await admin?.end();
  });

  describe("streams across nodes", () => {
    it("a stream on B gets the events posted to A and to B, in seq order, each once", { timeout: 30_000 }, async () => {
      const url = await newDatabase();
      const a = await node(url);
      const b = await node(url);
      const onB = await stream(b, "/events?topic=cluster.*");
      const onA = await stream(a, "/events?topic=cluster.*");

      const posted: Array<{ id: string; seq: number }> = [];
      // In turns, then both at once.
      for (let i = 0; i < 10; i++) {
        const target = i % 2 === 0 ? a : b;
        posted.push(
          ...(await publish(
            target.url,
            [1, 2, 3].map((k) => ({ topic: "cluster.turns", data: { i, k } })),
          )),
        );
      }
      const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => publish((i % 2 === 0 ? a : b).url, { topic: "cluster.both", data: { i } })));
      posted.push(...concurrent.flat());
      const expected = [...posted].sort((x, y) => x.seq - y.seq).map((p) => p.id);

      await onB.waitForEvents(expected.length);
      await onA.waitForEvents(expected.length);
      await sleep(200); // anything duplicated would arrive by now
      expect(idsOf(onB)).toEqual(expected);
      expect(idsOf(onA)).toEqual(expected);
    });

    it("a stream on B resumes with the Last-Event-ID of an event posted to A", { timeout: 30_000 }, async () => {
      const url = await newDatabase();
      const a = await node(url);
      const b = await node(url);
      const first = await publish(
        a.url,
        Array.from({ length: 5 }, (_, i) => ({ topic: "cluster.resume", data: { i } })),
      );

      const resumed = await stream(b, "/events?topic=cluster.resume", { "last-event-id": first[1]!.id });
      await resumed.waitForEvents(3);
      const later = await publish(a.url, [{ topic: "cluster.resume", data: { i: 5 } }]);
      await resumed.waitForEvents(4);
      await sleep(200);
      expect(idsOf(resumed)).toEqual([...first.slice(2), ...later].map((e) => e.id));
    });
  });

  describe("lost connections", () => {
    it("a node whose LISTEN connection drops reconnects and catches up", { timeout: 30_000 }, async () => {
      const url = await newDatabase();
      const a = await node(url);
      const b = await node(url);
      const onB = await stream(b, "/events?topic=cluster.drop");
      const listening = `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'`;
      const before = (await admin.query<{ pid: number }>(listening, [databases.at(-1)])).rows.map((r) => r.pid);
      expect(before).toHaveLength(2);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [before]);
      // Committed while no node listens: announced to no one.
      const posted = await publish(
        a.url,
        [0, 1, 2].map((i) => ({ topic: "cluster.drop", data: { i } })),
      );
      await onB.waitForEvents(3);
      // Each node reconnects on its own backoff: wait until both listen again, on new connections.
      const after = await eventually("both nodes listening again", async () => {
        const pids = (await admin.query<{ pid: number }>(listening, [databases.at(-1)])).rows.map((r) => r.pid);
        return pids.length === 2 ? pids : undefined;
      });
      expect(after.some((pid) => before.includes(pid))).toBe(false);
      // And announcements work again on the new connection.
      posted.push(...(await publish(a.url, [{ topic: "cluster.drop", data: { i: 3 } }])));
      await onB.waitForEvents(4);
      await sleep(200);
      expect(idsOf(onB)).toEqual(posted.map((p) => p.id));
    });
  });

  describe("roles", () => {
    it("an api node does not deliver: the worker node delivers every event once", { timeout: 30_000 }, async () => {
      const url = await newDatabase();
      receiver = await startReceiver();
      await node(url, { role: "worker" });
      const api = await node(url, { role: "api" });
      // Created on the api node: the worker node learns of it through the subscription announcement (its cursor is
      // the last seq at creation, so events published before the worker node started its worker are not missed).
      await createSubscription(api.url, { topic: "cluster.hook", url: receiver.url });

      const posted: Array<{ id: string; seq: number }> = [];
      for (let i = 0; i < 5; i++) {
        posted.push(
          ...(await publish(
            api.url,
            [0, 1, 2, 3].map((k) => ({ topic: "cluster.hook", data: { i, k } })),
          )),
        );
      }
      await receiver.waitFor(posted.length, 15_000);
      await sleep(300); // a second deliverer would have sent duplicates by now
      const ids = receiver.requests.map(eventIdOf);
      expect(ids.sort()).toEqual(posted.map((p) => p.id).sort());
      expect(api.server.hub.dispatcher.inFlight).toBe(0);
    });

    it("a worker node serves health, not the API", async () => {
      const url = await newDatabase();
      const worker = await node(url, { role: "worker" });
      expect((await request(`${worker.url}/api/events`)).status).toBe(404);
      expect((await request(`${worker.url}/events?topic=x`)).status).toBe(404);
      expect((await request(`${worker.url}/health`)).status).toBe(200);
      expect((await request(`${worker.url}/ready`)).status).toBe(200);
      expect((await request(`${worker.url}/metrics`)).status).toBe(200);
    });
  });
}
