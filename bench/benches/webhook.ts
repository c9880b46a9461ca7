import type { Bench, BenchContext } from "../lib/context.js";
import { bestRun, cpuPerDeliveryUs, hubDeliveryRound, runFrom, type Run } from "../lib/delivery-rounds.js";
import { createSubscription } from "../lib/hub-api.js";
import { spawnWorker, withCpu } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";

export type Kind = "hub" | "baseline";
export type { Run } from "../lib/delivery-rounds.js";
const TOPIC = "bench.webhook";
/** Subscription max_in_flight, and the baseline's concurrency. */
export const WEBHOOK_CONCURRENCY = 64;

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
  const cpuText = (r: Run, sender: string) =>
    `cpu: ${sender} ${r.serverCpuPct.toFixed(0)}%, receiver ${r.receiverCpuPct.toFixed(0)}%, others ${r.otherCpuPct.toFixed(0)}%`;
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
        const r = runFrom(count, (cpu.result.endAtMs - cpu.result.startAtMs) / 1000, cpu);
        runs.baseline.push(r);
        ctx.log(`http baseline ${Math.round(r.perSec)} POSTs/s (${count} in ${r.seconds.toFixed(2)} s; ${cpuText(r, "client")})`);
        continue;
      }
      const { run: r } = await hubDeliveryRound(ctx, {
        label: `${label}-${round}`,
        topic: TOPIC,
        count,
        client,
        pids: (hub) => [hub, receiver.pid],
        async deliver(origin) {
          const waiting = receiver.call<{ lastAtMs: number }>("receiverWait", { count, distinct: false, timeoutMs: 120_000 }, 130_000);
          await createSubscription(origin, { topic: TOPIC, url, max_in_flight: WEBHOOK_CONCURRENCY, start: "beginning" });
          return (await waiting).lastAtMs;
        },
      });
      runs.hub.push(r);
      ctx.log(
        `http hub      ${Math.round(r.perSec)} deliveries/s (${count} in ${r.seconds.toFixed(2)} s after a ${r.prefillS!.toFixed(1)} s prefill; ${cpuText(r, "hub")})`,
      );
    }
  } finally {
    await receiver.call("receiverStop", null).catch(() => undefined);
    await Promise.all([client.close(), receiver.close()]);
  }
  return { count, hub: bestRun(runs.hub), baseline: bestRun(runs.baseline), runs };
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
