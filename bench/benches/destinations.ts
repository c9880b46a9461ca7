import type { BareResult } from "../lib/broker-bare.js";
import { brokerPid, type BrokerKind, type SinkSpec } from "../lib/broker-sinks.js";
import type { Bench, BenchContext } from "../lib/context.js";
import { bestRun, cpuPerDeliveryUs, hubDeliveryRound, runFrom, type Run } from "../lib/delivery-rounds.js";
import { createSubscription } from "../lib/hub-api.js";
import { spawnWorker, withCpu, type CpuUse, type Worker } from "../lib/processes.js";
import { row, type ResultRow } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import { measureWebhooks, WEBHOOK_CONCURRENCY, type Kind } from "./webhook.js";

const TOPIC = "bench.destinations";
/** The broker kinds, in the order they run, with what their bare loop and the hub wait for. */
const KINDS: Array<{ kind: BrokerKind; what: string }> = [
  { kind: "nats", what: "JetStream publish, PubAck" },
  { kind: "amqp", what: "persistent mandatory publish, publisher confirm" },
  { kind: "mqtt", what: "QoS 1 publish, PUBACK" },
  { kind: "redis", what: "XADD, reply" },
];
/** How often the counter reads the broker's count. */
const POLL_MS = 10;

/**
 * Deliveries/s for each destination kind against a bare loop of the same client library in the client process,
 * publishing the same bodies with the same headers and confirm, as many in flight as the subscription's
 * `max_in_flight`. Per kind and round a fresh sink (stream, queue, topic); the hub gets N events before its
 * subscription (`start: "beginning"`) exists, and is timed from the subscription's creation until the broker's own
 * count (stream info, the queue's message count, a subscriber's tally, XLEN) reaches N; the bare loop from its first
 * publish until the same count does. HTTP is the `webhook` bench's measurement, against its target here.
 */
export const destinationsBench: Bench = {
  name: "destinations",
  title: "deliveries/s per destination kind vs a bare loop of its client library",
  async run(ctx) {
    const count = ctx.quick ? 5_000 : 20_000;
    const rows: ResultRow[] = [];
    const details: Record<string, unknown> = { count, concurrency: WEBHOOK_CONCURRENCY };
    const client = await spawnWorker("client");
    const counter = await spawnWorker("counter");
    try {
      for (const { kind, what } of KINDS) {
        const runs = await measureKind(ctx, kind, count, client, counter);
        details[kind] = runs;
        rows.push(...kindRows(kind, `${what}`, count, bestRun(runs.hub), bestRun(runs.baseline), 0.5));
      }
    } finally {
      await counter.call("sinkClose", null).catch(() => undefined);
      await Promise.all([client.close(), counter.close()]);
    }
    const http = await measureWebhooks(ctx, "destinations-http");
    details["http"] = http.runs;
    rows.push(...kindRows("http", "signed POST, 2xx (the webhook bench's)", http.count, http.hub, http.baseline, 0.4));
    return { rows, details };
  },
};

/** A round of a broker kind: {@link Run} with the broker's CPU (% of one core), null when its process was not found. */
interface BrokerRun extends Run {
  brokerCpuPct: number | null;
}

function brokerText(r: Run): string {
  const pct = (r as Partial<BrokerRun>).brokerCpuPct;
  return pct === undefined || pct === null ? "" : `, broker ${pct.toFixed(0)}%`;
}

async function measureKind(ctx: BenchContext, kind: BrokerKind, count: number, client: Worker, counter: Worker): Promise<Record<Kind, BrokerRun[]>> {
  const runs: Record<Kind, BrokerRun[]> = { hub: [], baseline: [] };
  // The broker's CPU is measured too when its process is found (else it counts among "others").
  const broker = brokerPid(kind);
  const pids = (sender: number) => (broker === undefined ? [sender, counter.pid] : [sender, counter.pid, broker]);
  const withBroker = (run: Run, cpu: CpuUse<unknown>): BrokerRun => ({ ...run, brokerCpuPct: broker === undefined ? null : cpu.pct[2]! });
  const cpuText = (r: BrokerRun, sender: string) =>
    `cpu: ${sender} ${r.serverCpuPct.toFixed(0)}%, counter ${r.receiverCpuPct.toFixed(0)}%${brokerText(r)}, others ${r.otherCpuPct.toFixed(0)}%`;
  let round = 0;
  for (const arm of interleave<Kind>("baseline", "hub", ctx.rounds)) {
    round++;
    const sink = await counter.call<SinkSpec>("sinkCreate", { kind });
    try {
      const waitFor = () => counter.call<{ atMs: number }>("sinkWait", { count, pollMs: POLL_MS, timeoutMs: 120_000 }, 130_000);
      if (arm === "baseline") {
        const cpu = await withCpu(pids(client.pid), async () => {
          const waiting = waitFor();
          const bare = await client.call<BareResult>("barePublish", { sink, count, concurrency: WEBHOOK_CONCURRENCY, topic: TOPIC }, 130_000);
          return { bare, seconds: ((await waiting).atMs - bare.startAtMs) / 1000 };
        });
        const { seconds, bare } = cpu.result;
        const r = withBroker(runFrom(count, seconds, cpu), cpu);
        runs.baseline.push(r);
        const lastConfirm = ((bare.confirmedAtMs - bare.startAtMs) / 1000).toFixed(2);
        ctx.log(
          `${kind} baseline ${Math.round(r.perSec)}/s (${count} in ${seconds.toFixed(2)} s, ${bare.lanes} in flight, last confirm at ${lastConfirm} s; ${cpuText(r, "client")})`,
        );
        continue;
      }
      const { run, cpu } = await hubDeliveryRound(ctx, {
        label: `destinations-${kind}-${round}`,
        topic: TOPIC,
        count,
        client,
        pids,
        async deliver(origin) {
          const waiting = waitFor();
          await createSubscription(origin, { topic: TOPIC, url: sink.url, max_in_flight: WEBHOOK_CONCURRENCY, start: "beginning" });
          return (await waiting).atMs;
        },
      });
      const r = withBroker(run, cpu);
      runs.hub.push(r);
      ctx.log(
        `${kind} hub      ${Math.round(r.perSec)}/s (${count} in ${r.seconds.toFixed(2)} s after a ${r.prefillS!.toFixed(1)} s prefill; ${cpuText(r, "hub")})`,
      );
    } finally {
      await counter.call("sinkClose", null);
    }
  }
  return runs;
}

/** The throughput row (against `target`) and the sender-CPU row of one kind. */
function kindRows(kind: string, what: string, count: number, hub: Run, base: Run, target: number): ResultRow[] {
  const cpuUs = cpuPerDeliveryUs;
  return [
    row({
      bench: "destinations",
      metric: `${kind}: deliveries/s, ${count} events, ${what}, max_in_flight ${WEBHOOK_CONCURRENCY} (vs bare loop)`,
      unit: "/s",
      hub: hub.perSec,
      baseline: base.perSec,
      target: { on: "ratio", op: ">=", value: target },
      note:
        `cpu sender/receiving side/others: hub ${hub.serverCpuPct.toFixed(0)}/${hub.receiverCpuPct.toFixed(0)}/${hub.otherCpuPct.toFixed(0)}%${brokerText(hub)}, ` +
        `baseline ${base.serverCpuPct.toFixed(0)}/${base.receiverCpuPct.toFixed(0)}/${base.otherCpuPct.toFixed(0)}%${brokerText(base)}`,
    }),
    row({
      bench: "destinations",
      metric: `${kind}: sender CPU per delivery (same rounds)`,
      unit: "µs",
      hub: cpuUs(hub),
      baseline: cpuUs(base),
      target: null,
      note: `efficiency baseline/hub ${(cpuUs(base) / cpuUs(hub)).toFixed(2)}`,
    }),
  ];
}
