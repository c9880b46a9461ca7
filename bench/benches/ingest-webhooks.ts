import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { createSubscription, hubApi, WEBHOOK_HUB_ENV } from "../lib/hub-api.js";
import { spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import type { LoadResult } from "../worker.js";
import { POST_CONNECTIONS, SMALL_EVENT } from "./ingest.js";

type Arm = "none" | "other" | "matching";
const SUBSCRIPTIONS = 100;

type Run = LoadResult & { serverCpuPct: number; receiverCpuPct: number; otherCpuPct: number; delivered: number };

/**
 * Single-event POST rate (the `ingest` load, on topic `default`) with 100 active webhook subscriptions on another
 * topic vs none, same hub, same client: the cost the subscriptions add to ingest. Then, once, with 100 subscriptions
 * that match every event (informational: each POST then fans out to 100 webhooks on the same two cores).
 */
export const ingestWebhooksBench: Bench = {
  name: "ingest-webhooks",
  title: "POST rate with 100 webhook subscriptions vs none",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 3;
    const runs: Record<Arm, Run[]> = { none: [], other: [], matching: [] };
    const client = await spawnWorker("client");
    const receiver = await spawnWorker("receiver");
    const hub = await startHub({
      databasePath: join(ctx.freshDir("ingest-webhooks-hub"), "hub.db"),
      cpuProfDir: ctx.profileDir("ingest-webhooks-hub"),
      env: WEBHOOK_HUB_ENV,
    });
    try {
      const { port } = await receiver.call<{ port: number }>("receiverStart", { port: 0, measure: false });
      const hookUrl = `http://127.0.0.1:${port}/hook`;
      const load = { url: `${hub.origin}/api/events`, body: SMALL_EVENT, connections: POST_CONNECTIONS, pipelining: 1 };
      await client.call("load", { ...load, durationS: warmupS });
      let ids: string[] = [];
      const subscribe = async (topic: string) => {
        for (let i = 0; i < SUBSCRIPTIONS; i++) ids.push(await createSubscription(hub.origin, { topic, url: hookUrl }));
      };
      const unsubscribe = async () => {
        for (const id of ids) await hubApi(hub.origin, "DELETE", `/api/subscriptions/${id}`);
        ids = [];
      };
      const arms: Arm[] = [...interleave<Arm>("none", "other", ctx.rounds), "matching"];
      for (const arm of arms) {
        if (arm === "other") await subscribe("bench.elsewhere");
        if (arm === "matching") await subscribe("default");
        await receiver.call("receiverReset", { measure: false });
        const cpu = await withCpu([hub.pid, receiver.pid, client.pid], () => client.call<LoadResult>("load", { ...load, durationS }));
        const { requests } = await receiver.call<{ requests: number }>("receiverStats", null);
        // The matching arm runs last and leaves a backlog; its subscriptions go with the hub.
        if (arm === "other") await unsubscribe();
        const r: Run = {
          ...cpu.result,
          serverCpuPct: cpu.pct[0]!,
          receiverCpuPct: cpu.pct[1]!,
          clientCpuPct: cpu.pct[2]!,
          otherCpuPct: cpu.otherPct,
          delivered: requests,
        };
        runs[arm].push(r);
        ctx.log(
          `${arm === "none" ? "0 subscriptions" : `${SUBSCRIPTIONS} subs, ${arm === "other" ? "other topic" : "matching"}`}`.padEnd(28) +
            `${Math.round(r.okPerSec)} req/s (p99 ${r.latencyP99Ms} ms; ${r.delivered} webhooks received; cpu: hub ${r.serverCpuPct.toFixed(0)}%, ` +
            `client ${r.clientCpuPct.toFixed(0)}%, receiver ${r.receiverCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
        );
      }
    } finally {
      await hub.stop();
      await receiver.call("receiverStop", null).catch(() => undefined);
      await Promise.all([client.close(), receiver.close()]);
    }
    const best = (arm: Arm) => runs[arm].reduce((a, b) => (b.okPerSec > a.okPerSec ? b : a));
    const other = best("other");
    const none = best("none");
    const matching = best("matching");
    const cpuUs = (r: Run) => (r.serverCpuPct * 1e4) / r.okPerSec;
    return {
      rows: [
        row({
          bench: "ingest-webhooks",
          metric: `POST req/s with ${SUBSCRIPTIONS} subscriptions on another topic (baseline: none, same hub)`,
          unit: "req/s",
          hub: other.okPerSec,
          baseline: none.okPerSec,
          target: { on: "ratio", op: ">=", value: 0.85 },
          note: `hub cpu per request ${cpuUs(other).toFixed(0)} vs ${cpuUs(none).toFixed(0)} µs (efficiency ${(cpuUs(none) / cpuUs(other)).toFixed(2)})`,
        }),
        row({
          bench: "ingest-webhooks",
          metric: `POST req/s with ${SUBSCRIPTIONS} subscriptions matching every event (1 round)`,
          unit: "req/s",
          hub: matching.okPerSec,
          baseline: none.okPerSec,
          target: null,
          note:
            `${matching.delivered} webhooks received in ${durationS} s (${Math.round(matching.delivered / durationS)}/s); ` +
            `cpu hub ${matching.serverCpuPct.toFixed(0)}%, client ${matching.clientCpuPct.toFixed(0)}%, receiver ${matching.receiverCpuPct.toFixed(0)}%`,
        }),
      ],
      details: { subscriptions: SUBSCRIPTIONS, durationS, warmupS, runs },
    };
  },
};
