import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { countDeliveries, createSubscription, WEBHOOK_HUB_ENV } from "../lib/hub-api.js";
import { nowAbsMs } from "../lib/receiver.js";
import { freePort, spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";

const TOPIC = "bench.backlog";
/** 50 attempts (the most a schedule may have), 0.5 s apart: about 25 s before a delivery would die. */
const RETRY_SCHEDULE = [0, ...Array.from({ length: 49 }, () => 0.5)];

/**
 * Catching up after an outage: the receiver is down (nothing listens on its port) while 100,000 events are posted
 * in batches to a topic with one subscription (max_in_flight 64, a retry every 0.5 s); then the receiver starts.
 * Reports the time from the receiver listening until every event has arrived (distinct webhook-ids) and the rate.
 * One round; no baseline.
 */
export const backlogBench: Bench = {
  name: "backlog",
  title: "draining 100,000 events after the receiver comes back",
  async run(ctx) {
    const count = ctx.quick ? 20_000 : 100_000;
    const client = await spawnWorker("client");
    const receiver = await spawnWorker("receiver");
    const port = await freePort();
    const hub = await startHub({ databasePath: join(ctx.freshDir("backlog-hub"), "hub.db"), cpuProfDir: ctx.profileDir("backlog-hub"), env: WEBHOOK_HUB_ENV });
    let result;
    try {
      const subscriptionId = await createSubscription(hub.origin, {
        topic: TOPIC,
        url: `http://127.0.0.1:${port}/hook`,
        max_in_flight: 64,
        retry: { schedule: RETRY_SCHEDULE },
      });
      const { seconds: postS } = await client.call<{ seconds: number }>(
        "postBatches",
        { origin: hub.origin, topic: TOPIC, count, batchSize: 500, connections: 2 },
        180_000,
      );
      const openBefore =
        (await countDeliveries(hub.origin, { subscription: subscriptionId, status: "retrying" })) +
        (await countDeliveries(hub.origin, { subscription: subscriptionId, status: "pending" }));
      ctx.log(`posted ${count} events in ${postS.toFixed(1)} s with the receiver down; ${openBefore} deliveries open (pending or retrying)`);
      const cpu = await withCpu([hub.pid, receiver.pid], async () => {
        await receiver.call("receiverStart", { port, measure: false });
        const t0 = nowAbsMs();
        const done = await receiver.call<{ lastAtMs: number; requests: number; distinct: number }>(
          "receiverWait",
          { count, distinct: true, timeoutMs: 240_000 },
          250_000,
        );
        return { seconds: (done.lastAtMs - t0) / 1000, requests: done.requests };
      });
      const dead = await countDeliveries(hub.origin, { subscription: subscriptionId, status: "dead" });
      result = {
        count,
        postS,
        openBefore,
        seconds: cpu.result.seconds,
        perSec: count / cpu.result.seconds,
        requests: cpu.result.requests,
        dead,
        hubCpuPct: cpu.pct[0]!,
        receiverCpuPct: cpu.pct[1]!,
        otherCpuPct: cpu.otherPct,
      };
      ctx.log(
        `all ${count} arrived ${result.seconds.toFixed(2)} s after the receiver started (${Math.round(result.perSec)}/s; ${result.requests} requests, ${dead} dead; ` +
          `cpu: hub ${result.hubCpuPct.toFixed(0)}%, receiver ${result.receiverCpuPct.toFixed(0)}%, others ${result.otherCpuPct.toFixed(0)}%)`,
      );
    } finally {
      await hub.stop();
      await receiver.call("receiverStop", null).catch(() => undefined);
      await Promise.all([client.close(), receiver.close()]);
    }
    return {
      rows: [
        row({
          bench: "backlog",
          metric: `receiver up → all ${count} delivered`,
          unit: "s",
          hub: result.seconds,
          baseline: null,
          target: null,
          note: `${result.requests - count} duplicate requests, ${result.dead} dead; the events were posted in ${result.postS.toFixed(1)} s while it was down`,
        }),
        row({ bench: "backlog", metric: "catch-up deliveries/s", unit: "/s", hub: result.perSec, baseline: null, target: null }),
      ],
      details: { retrySchedule: RETRY_SCHEDULE, ...result },
    };
  },
};
