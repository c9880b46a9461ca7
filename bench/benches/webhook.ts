import { join } from "node:path";
import type { Bench, BenchContext } from "../lib/context.js";
import { createSubscription, WEBHOOK_HUB_ENV } from "../lib/hub-api.js";
import { nowAbsMs } from "../lib/receiver.js";
import { spawnWorker, startHub, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";

export type Kind = "hub" | "baseline";
const TOPIC = "bench.webhook";
/** Subscription max_in_flight, and the baseline's concurrency. */
export const WEBHOOK_CONCURRENCY = 64;

export interface Run {
  deliveries: number;
  seconds: number;
  perSec: number;
  serverCpuPct: number;
  receiverCpuPct: number;
  otherCpuPct: number;
  prefillS?: number;
}

/** The best round of each arm of {@link measureWebhooks}, and every round. */
export interface WebhookMeasurement {
  count: number;
  hub: Run;
  baseline: Run;
  runs: Record<Kind, Run[]>;
}

/**
 * Webhook throughput: deliveries/s from the SQLite log to a local receiver (real HTTP, signed), against the same
 * receiver fed by a bare loop of undici POSTs with the same concurrency and body. The hub's events are posted
 * before the subscription exists (`start: "beginning"`), so the timed phase, subscription creation until the
 * receiver has them all, is pure delivery. `label` names the hubs' data and profile directories.
 */
export async function measureWebhooks(ctx: BenchContext, label: string): Promise<WebhookMeasurement> {
  const count = ctx.quick ? 5_000 : 20_000;
  const client = await spawnWorker("client");
  const receiver = await spawnWorker("receiver");
  const runs: Record<Kind, Run[]> = { hub: [], baseline: [] };
  try {
    const { port } = await receiver.call<{ port: number }>("receiverStart", { port: 0, measure: false });
    const url = `http://127.0.0.1:${port}/hook`;
    let round = 0;
    for (const kind of interleave<Kind>("baseline", "hub", ctx.rounds)) {
      round++;
      await receiver.call("receiverReset", { measure: false });
      if (kind === "baseline") {
        const cpu = await withCpu([client.pid, receiver.pid], () =>
          client.call<{ startAtMs: number; endAtMs: number; non2xx: number }>("bareWebhooks", { url, count, concurrency: WEBHOOK_CONCURRENCY }),
        );
        const seconds = (cpu.result.endAtMs - cpu.result.startAtMs) / 1000;
        const r: Run = {
          deliveries: count,
          seconds,
          perSec: count / seconds,
          serverCpuPct: cpu.pct[0]!,
          receiverCpuPct: cpu.pct[1]!,
          otherCpuPct: cpu.otherPct,
        };
        runs.baseline.push(r);
        ctx.log(
          `http baseline ${Math.round(r.perSec)} POSTs/s (${count} in ${seconds.toFixed(2)} s; cpu: client ${r.serverCpuPct.toFixed(0)}%, receiver ${r.receiverCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
        );
        continue;
      }
      const hub = await startHub({
        databasePath: join(ctx.freshDir(`${label}-hub-${round}`), "hub.db"),
        cpuProfDir: ctx.profileDir(`${label}-hub-${round}`),
        env: WEBHOOK_HUB_ENV,
      });
      try {
        const { seconds: prefillS } = await client.call<{ seconds: number }>("postBatches", {
          origin: hub.origin,
          topic: TOPIC,
          count,
          batchSize: 500,
          connections: 2,
        });
        const cpu = await withCpu([hub.pid, receiver.pid], async () => {
          const t0 = nowAbsMs();
          const waiting = receiver.call<{ lastAtMs: number }>("receiverWait", { count, distinct: false, timeoutMs: 120_000 }, 130_000);
          await createSubscription(hub.origin, { topic: TOPIC, url, max_in_flight: WEBHOOK_CONCURRENCY, start: "beginning" });
          const done = await waiting;
          return (done.lastAtMs - t0) / 1000;
        });
        const seconds = cpu.result;
        const r: Run = {
          deliveries: count,
          seconds,
          perSec: count / seconds,
          serverCpuPct: cpu.pct[0]!,
          receiverCpuPct: cpu.pct[1]!,
          otherCpuPct: cpu.otherPct,
          prefillS,
        };
        runs.hub.push(r);
        ctx.log(
          `http hub      ${Math.round(r.perSec)} deliveries/s (${count} in ${seconds.toFixed(2)} s after a ${prefillS.toFixed(1)} s prefill; cpu: hub ${r.serverCpuPct.toFixed(0)}%, receiver ${r.receiverCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%)`,
        );
      } finally {
        await hub.stop();
      }
    }
  } finally {
    await receiver.call("receiverStop", null).catch(() => undefined);
    await Promise.all([client.close(), receiver.close()]);
  }
  const best = (k: Kind) => runs[k].reduce((a, b) => (b.perSec > a.perSec ? b : a));
  return { count, hub: best("hub"), baseline: best("baseline"), runs };
}

/** Sender CPU per delivery, µs, from a round's CPU % of one core and its rate. */
export function cpuPerDeliveryUs(r: { serverCpuPct: number; perSec: number }): number {
  return (r.serverCpuPct * 1e4) / r.perSec;
}

/** See {@link measureWebhooks}. */
export const webhookBench: Bench = {
  name: "webhook",
  title: "webhook deliveries/s vs a bare undici loop",
  async run(ctx) {
    const { count, hub, baseline: base, runs } = await measureWebhooks(ctx, "webhook");
    const cpuUs = cpuPerDeliveryUs;
    return {
      rows: [
        row({
          bench: "webhook",
          metric: `deliveries/s, ${count} events, max_in_flight ${WEBHOOK_CONCURRENCY} (vs bare undici loop)`,
          unit: "/s",
          hub: hub.perSec,
          baseline: base.perSec,
          target: { on: "ratio", op: ">=", value: 0.6 },
          note:
            `cpu sender/receiver/others: hub ${hub.serverCpuPct.toFixed(0)}/${hub.receiverCpuPct.toFixed(0)}/${hub.otherCpuPct.toFixed(0)}%, ` +
            `baseline ${base.serverCpuPct.toFixed(0)}/${base.receiverCpuPct.toFixed(0)}/${base.otherCpuPct.toFixed(0)}%`,
        }),
        row({
          bench: "webhook",
          metric: "sender CPU per delivery (same rounds)",
          unit: "µs",
          hub: cpuUs(hub),
          baseline: cpuUs(base),
          target: null,
          note: `efficiency baseline/hub ${(cpuUs(base) / cpuUs(hub)).toFixed(2)}`,
        }),
      ],
      details: { count, concurrency: WEBHOOK_CONCURRENCY, runs },
    };
  },
};
