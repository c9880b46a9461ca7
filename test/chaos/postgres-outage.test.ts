/**
 * PostgreSQL going away under a hub that is ingesting, streaming and delivering webhooks. The shared server is never
 * stopped (other tests use it): the hub's own backends are killed with pg_terminate_backend, and a TCP proxy between
 * the hub and the server stands for a server that is down (new connections refused, open ones cut) and comes back.
 *
 * While the database is away: publishes get 503 SB_STORE_UNAVAILABLE with Retry-After, none hangs past the request
 * timeout, /ready answers 503. Afterwards: every acknowledged event is readable, streamed (resuming with
 * Last-Event-ID) and delivered; repeats at the receiver are bounded by the attempts that were in flight; the hub
 * recovers without a restart.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { createSubscription, sleep } from "../helpers/webhooks.js";
import { deliveredOnce, expectAllReadable, publishUntilAccepted, ResumingStream, startPublishLoad } from "./pg-chaos.js";

await describeWithPostgres("chaos: postgres", "kills and cuts the hub's PostgreSQL connections under load", definePgChaos);

/** `npm run chaos`: more kills, more and longer outages. */
const LONG = process.env.CHAOS_LONG === "1";
/** Short enough to keep the tests quick; the checks hold the publishes to it. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Attempts in flight per subscription: repeats at the receiver may not exceed this per outage. */
const MAX_IN_FLIGHT = 4;

function definePgChaos(): void {
  let admin: pg.Client;
  let serial = 0;
  const databases: string[] = [];
  const closers: Array<() => Promise<unknown> | unknown> = [];

  async function newDatabase(): Promise<{ name: string; url: string }> {
    const name = `switchboard_chaos_${process.pid}_${++serial}`;
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
    databases.push(name);
    return { name, url: databaseUrl(name) };
  }

  async function hubOn(url: string, overrides: Partial<Config> = {}): Promise<TestHub> {
    const hub = await startTestHub({ databaseUrl: url, allowPrivateTargets: true, requestTimeoutMs: REQUEST_TIMEOUT_MS, ...overrides });
    closers.push(() => hub.close());
    return hub;
  }

  async function receiverFor(hub: TestHub, topic: string): Promise<Receiver> {
    const receiver = await startReceiver({ status: 200 });
    closers.push(() => receiver.close());
    await createSubscription(hub.url, { topic, url: receiver.url, retry: { schedule: [0, 0.1, 0.2, 0.5, 1, 1, 1, 1, 1, 1] }, max_in_flight: MAX_IN_FLIGHT });
    return receiver;
  }

  function streamOf(hub: TestHub, topic: string): ResumingStream {
    const stream = new ResumingStream(hub.url, `/events?topic=${topic}`);
    closers.push(() => stream.close());
    return stream;
  }

  /** Kills every backend of database `name` but the admin's own; returns how many. */
  /**
   * Recovered without a restart: a publish is acknowledged again and /ready is 200; then every acknowledged event is
   * readable, has reached the stream, and has reached the receiver with at most `maxRepeats` repeated webhook-ids.
   */
  async function expectRecovered(
    hub: TestHub,
    topic: string,
    acknowledged: string[],
    stream: ResumingStream,
    receiver: Receiver,
    maxRepeats: number,
  ): Promise<void> {
    acknowledged.push(await publishUntilAccepted(hub.url, topic));
    await eventually("/ready 200", async () => ((await request(`${hub.url}/ready`)).status === 200 ? true : undefined), 20_000);
    await expectAllReadable(hub.url, topic, acknowledged);
    await stream.waitForAll(acknowledged);
    const { repeats } = await deliveredOnce(receiver, acknowledged);
    expect(repeats).toBeLessThanOrEqual(maxRepeats);
  }

  async function killBackends(name: string): Promise<number> {
    const { rows } = await admin.query<{ killed: boolean }>(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    return rows.filter((r) => r.killed).length;
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });

  afterAll(async () => {
    await admin?.end();
  });

  describe("backends killed (pg_terminate_backend)", () => {
    it(
      "during ingest, streams and delivery: nothing acknowledged is lost, repeats stay within the attempts in flight",
      { timeout: LONG ? 300_000 : 90_000 },
      async () => {
        const db = await newDatabase();
        const hub = await hubOn(db.url);
        const topic = "chaos.kill";
        const receiver = await receiverFor(hub, topic);
        const stream = streamOf(hub, topic);
        await publishUntilAccepted(hub.url, topic);

        const load = startPublishLoad(hub.url, topic);
        let kills = 0;
        const rounds = LONG ? 60 : 5;
        for (let round = 0; round < rounds; round++) {
          await sleep(400);
          kills += await killBackends(db.name);
          if (round % 5 === 2) stream.reconnect();
        }
        await sleep(400);
        const tally = await load.stop();
        expect(kills).toBeGreaterThan(0);
        expect(tally.unexpected).toEqual([]);
        expect(tally.slowestMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);

        await expectRecovered(hub, topic, tally.acknowledged, stream, receiver, rounds * MAX_IN_FLIGHT);
        expect(stream.connections).toBeGreaterThan(1);
        for (const refusal of stream.refusals) expect(refusal).toMatch(/^503 retry-after=\d+ .*"SB_STORE_UNAVAILABLE"/);
      },
    );
  });

  describe("database unreachable (a proxy that refuses and cuts connections)", () => {
    let proxy: TcpProxy;

    beforeAll(async () => {
      proxy = await startTcpProxy(Number(new URL(ADMIN_URL).port || 5432), new URL(ADMIN_URL).hostname);
    });
    afterAll(async () => {
      await proxy?.close();
    });

    it(
      "answers 503 with Retry-After while down, /ready 503, then recovers: nothing lost, streams resume, deliveries continue",
      { timeout: 90_000 },
      async () => {
        const db = await newDatabase();
        const viaProxy = new URL(db.url);
        viaProxy.port = String(proxy.port);
        const hub = await hubOn(viaProxy.toString());
        const topic = "chaos.down";
        const receiver = await receiverFor(hub, topic);
        const stream = streamOf(hub, topic);
        await publishUntilAccepted(hub.url, topic);

        const load = startPublishLoad(hub.url, topic);
        await sleep(500);
        await proxy.cut();

        // While down: every publish is answered, with 503 + Retry-After; /ready and /health 503.
        await eventually("a 503 while the database is down", () => (load.tally.unavailable > 0 ? true : undefined), REQUEST_TIMEOUT_MS * 2);
        const ready = await request(`${hub.url}/ready`);
        expect(ready.status, ready.text).toBe(503);
        expect(ready.body.status).toBe("store_unavailable");
        const health = await request(`${hub.url}/health`);
        expect(health.status).toBe(503);
        expect(health.body.code).toBe("SB_STORE_UNAVAILABLE");
        const down = await request(`${hub.url}/api/events`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ topic, data: { down: true } }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 2_000),
        });
        expect(down.status, down.text).toBe(503);
        expect(down.body.code).toBe("SB_STORE_UNAVAILABLE");
        expect(Number(down.headers.get("retry-after"))).toBeGreaterThan(0);
        // A stream client reconnecting now cannot be replayed to; it keeps trying until the database is back.
        stream.reconnect();
        await sleep(1_500);

        await proxy.restore();
        await sleep(1_000);
        const tally = await load.stop();
        expect(tally.unexpected).toEqual([]);
        expect(tally.slowestMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);

        await expectRecovered(hub, topic, tally.acknowledged, stream, receiver, MAX_IN_FLIGHT);
        expect(stream.connections).toBeGreaterThan(1);
        for (const refusal of stream.refusals) expect(refusal).toMatch(/^503 retry-after=\d+ .*"SB_STORE_UNAVAILABLE"/);
      },
    );

    it("a database that accepts connections and never answers: 503 within the request timeout, /ready 503, then recovers", { timeout: 90_000 }, async () => {
      const db = await newDatabase();
      const viaProxy = new URL(db.url);
      viaProxy.port = String(proxy.port);
      const hub = await hubOn(viaProxy.toString());
      const topic = "chaos.stall";
      const receiver = await receiverFor(hub, topic);
      const stream = streamOf(hub, topic);
      await publishUntilAccepted(hub.url, topic);

      const load = startPublishLoad(hub.url, topic);
      await sleep(500);
      proxy.stall();
      await eventually("a 503 while the database does not answer", () => (load.tally.unavailable > 0 ? true : undefined), REQUEST_TIMEOUT_MS * 2);
      const ready = await request(`${hub.url}/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 2_000) });
      expect(ready.status, ready.text).toBe(503);
      stream.reconnect();
      await sleep(1_000);

      await proxy.restore();
      await sleep(1_000);
      const tally = await load.stop();
      expect(tally.unexpected).toEqual([]);
      expect(tally.slowestMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);

      await expectRecovered(hub, topic, tally.acknowledged, stream, receiver, MAX_IN_FLIGHT);
    });
  });
}
