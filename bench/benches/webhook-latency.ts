import { join } from "node:path";
import type { Bench } from "../lib/context.js";
import { createSubscription, WEBHOOK_HUB_ENV } from "../lib/hub-api.js";
import { spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave, type Summary } from "../lib/stats.js";

type Kind = "hub" | "baseline";
const TOPIC = "bench.latency";
const RATE = 500;

interface Run {
  latency: Summary & { samples: number };
  sent: number;
  failed: number;
  serverCpuPct: number;
  otherCpuPct: number;
}

/**
 * POST → webhook received latency at a steady 500 events/s. Each event carries its send time (absolute ms); the
 * receiver, in its own process, records arrival − send. The baseline posts the same bodies straight to the receiver
 * at the same rate: the floor of the client, the loopback and the receiver.
 */
export const webhookLatencyBench: Bench = {
  name: "webhook-latency",
  title: "POST → webhook received latency at 500 events/s",
  async run(ctx) {
    const durationS = ctx.quick ? 3 : 10;
    const warmupS = ctx.quick ? 1 : 2;
    const client = await spawnWorker("client");
    const receiver = await spawnWorker("receiver");
    const runs: Record<Kind, Run[]> = { hub: [], baseline: [] };
    try {
      const { port } = await receiver.call<{ port: number }>("receiverStart", { port: 0, measure: true });
      const hookUrl = `http://127.0.0.1:${port}/hook`;
      let round = 0;
      for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
        round++;
        const hub =
          kind === "hub"
            ? await startHub({
                databasePath: join(ctx.freshDir(`webhook-latency-hub-${round}`), "hub.db"),
                cpuProfDir: ctx.profileDir(`webhook-latency-hub-${round}`),
                env: WEBHOOK_HUB_ENV,
              })
            : undefined;
        try {
          if (hub) await createSubscription(hub.origin, { topic: TOPIC, url: hookUrl, max_in_flight: 64 });
          const load = { url: hub ? `${hub.origin}/api/events` : hookUrl, topic: hub ? TOPIC : undefined, rate: RATE, connections: 16 };
          await client.call("steadyPost", { ...load, durationS: warmupS });
          await new Promise((r) => setTimeout(r, 200));
          await receiver.call("receiverReset", { measure: true });
          const cpu = await withCpu([hub?.pid ?? receiver.pid], async () => {
            const sent = await client.call<{ sent: number; failed: number }>("steadyPost", { ...load, durationS }, durationS * 1000 + 60_000);
            await receiver.call("receiverWait", { count: sent.sent - sent.failed, distinct: false, timeoutMs: 10_000 }).catch((e: Error) => ctx.log(e.message));
            return sent;
          });
          const latency = await receiver.call<Summary & { samples: number }>("receiverLatencies", null);
          const r: Run = { latency, sent: cpu.result.sent, failed: cpu.result.failed, serverCpuPct: cpu.pct[0]!, otherCpuPct: cpu.otherPct };
          runs[kind].push(r);
          ctx.log(
            `${kind.padEnd(8)} p50 ${latency.p50.toFixed(2)} ms, p90 ${latency.p90.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, max ${latency.max.toFixed(1)} ms ` +
              `(${latency.samples} of ${r.sent} received, ${r.failed} failed; cpu ${kind === "hub" ? "hub" : "receiver"} ${r.serverCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
          );
        } finally {
          await hub?.stop();
        }
      }
    } finally {
      await receiver.call("receiverStop", null).catch(() => undefined);
      await Promise.all([client.close(), receiver.close()]);
    }
    const best = (k: Kind) => runs[k].reduce((a, b) => (b.latency.p50 < a.latency.p50 ? b : a));
    const hub = best("hub");
    const base = best("baseline");
    return {
      rows: [
        row({
          bench: "webhook-latency",
          metric: `POST→webhook p50 at ${RATE}/s (vs POST straight to the receiver)`,
          unit: "ms",
          hub: hub.latency.p50,
          baseline: base.latency.p50,
          target: { on: "hub", op: "<=", value: 5 },
          note: `${hub.latency.samples} of ${hub.sent} received; hub cpu ${hub.serverCpuPct.toFixed(0)}%, others ${hub.otherCpuPct.toFixed(0)}%`,
        }),
        row({
          bench: "webhook-latency",
          metric: `POST→webhook p99 at ${RATE}/s`,
          unit: "ms",
          hub: hub.latency.p99,
          baseline: base.latency.p99,
          target: { on: "hub", op: "<=", value: 25 },
          note: `max ${hub.latency.max.toFixed(1)} ms`,
        }),
      ],
      details: { rate: RATE, durationS, warmupS, runs },
    };
  },
};
