/**
 * `npm run chaos` only (minutes, not seconds): a private PostgreSQL server really stopped and started under a hub that
 * is ingesting, streaming and delivering. A clean shutdown (`pg_ctl stop -m fast`: sessions get 57P01) and a crash
 * (`-m immediate`), several times each. The same promises as postgres-outage.test.ts: 503 with Retry-After and /ready
 * 503 while it is down, nothing acknowledged lost, repeats bounded by the attempts in flight, recovery without a
 * restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startPgCluster, type PgCluster } from "../helpers/pg-cluster.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, sleep } from "../helpers/webhooks.js";
import { deliveredOnce, expectAllReadable, publishUntilAccepted, ResumingStream, startPublishLoad } from "./pg-chaos.js";

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_IN_FLIGHT = 4;
const CYCLES: Array<"fast" | "immediate"> = ["fast", "immediate", "fast", "immediate", "fast"];

describe("chaos: a private PostgreSQL server stopped and started", () => {
  let cluster: PgCluster;
  let hub: TestHub | undefined;
  let receiver: Receiver | undefined;
  let stream: ResumingStream | undefined;

  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 120_000);

  afterAll(async () => {
    await stream?.close();
    await hub?.close();
    await receiver?.close();
    cluster?.destroy();
  });

  it(`survives ${CYCLES.length} stops (clean and crash) under ingest, streams and delivery`, { timeout: 600_000 }, async () => {
    const node = await startTestHub({ databaseUrl: cluster.url, allowPrivateTargets: true, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    hub = node;
    const topic = "chaos.restart";
    receiver = await startReceiver({ status: 200 });
    await createSubscription(hub.url, { topic, url: receiver.url, retry: { schedule: [0, 0.5, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2] }, max_in_flight: MAX_IN_FLIGHT });
    stream = new ResumingStream(hub.url, `/events?topic=${topic}`);
    await publishUntilAccepted(hub.url, topic);

    const load = startPublishLoad(hub.url, topic, 8, REQUEST_TIMEOUT_MS + 2_000);
    for (const mode of CYCLES) {
      await sleep(3_000);
      const before = load.tally.unavailable;
      cluster.stop(mode);
      await eventually("503s while the server is stopped", () => (load.tally.unavailable > before ? true : undefined), REQUEST_TIMEOUT_MS * 2);
      const ready = await request(`${hub.url}/ready`);
      expect(ready.status, ready.text).toBe(503);
      stream.reconnect();
      await sleep(3_000);
      cluster.start();
      await eventually("/ready 200 after the restart", async () => ((await request(`${node.url}/ready`)).status === 200 ? true : undefined), 30_000);
    }
    await sleep(2_000);
    const tally = await load.stop();
    expect(tally.unexpected).toEqual([]);
    expect(tally.slowestMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
    expect(tally.unavailable).toBeGreaterThan(0);

    tally.acknowledged.push(await publishUntilAccepted(hub.url, topic));
    await expectAllReadable(hub.url, topic, tally.acknowledged);
    await stream.waitForAll(tally.acknowledged, 60_000);
    for (const refusal of stream.refusals) expect(refusal).toMatch(/^503 retry-after=\d+ .*"SB_STORE_UNAVAILABLE"/);
    const { repeats } = await deliveredOnce(receiver, tally.acknowledged, 120_000);
    expect(repeats).toBeLessThanOrEqual(CYCLES.length * MAX_IN_FLIGHT);
  });
});
