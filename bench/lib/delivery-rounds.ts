import { join } from "node:path";
import type { BenchContext } from "./context.js";
import { WEBHOOK_HUB_ENV } from "./hub-api.js";
import { nowAbsMs } from "./receiver.js";
import { startHub, withCpu, type CpuUse, type Worker } from "./processes.js";

/** One round of a delivery bench (hub or bare loop): its rate and the CPU of the sender, the receiving side and others. */
export interface Run {
  deliveries: number;
  seconds: number;
  perSec: number;
  serverCpuPct: number;
  receiverCpuPct: number;
  otherCpuPct: number;
  prefillS?: number;
}

/** A {@link Run} from `count` deliveries in `seconds`, the sender being the first pid measured and the receiver the second. */
export function runFrom(count: number, seconds: number, cpu: CpuUse<unknown>): Run {
  return { deliveries: count, seconds, perSec: count / seconds, serverCpuPct: cpu.pct[0]!, receiverCpuPct: cpu.pct[1]!, otherCpuPct: cpu.otherPct };
}

/** The round with the highest rate. */
export function bestRun<R extends Run>(runs: R[]): R {
  return runs.reduce((a, b) => (b.perSec > a.perSec ? b : a));
}

/** Sender CPU per delivery, µs, from a round's CPU % of one core and its rate. */
export function cpuPerDeliveryUs(r: { serverCpuPct: number; perSec: number }): number {
  return (r.serverCpuPct * 1e4) / r.perSec;
}

/** What {@link hubDeliveryRound} needs: where and what to prefill, what to measure, and how to start and await delivery. */
export interface HubRoundOptions {
  /** Names the hub's data and profile directories. */
  label: string;
  topic: string;
  count: number;
  /** Posts the prefill. */
  client: Worker;
  /** The pids measured, given the hub's (the hub's first). */
  pids: (hubPid: number) => number[];
  /**
   * Starts delivery on the prefilled hub (creates its subscription) and resolves with the absolute time (ms, see
   * `nowAbsMs`) at which the last delivery arrived.
   */
  deliver: (origin: string) => Promise<number>;
}

/**
 * A hub round: a fresh hub on SQLite gets `count` events before any subscription exists, then is timed from the
 * start of delivery until the last one arrived, with the CPU of the given processes over that phase.
 */
export async function hubDeliveryRound(ctx: BenchContext, o: HubRoundOptions): Promise<{ run: Run; cpu: CpuUse<number> }> {
  const hub = await startHub({
    databasePath: join(ctx.freshDir(`${o.label}-hub`), "hub.db"),
    cpuProfDir: ctx.profileDir(`${o.label}-hub`),
    env: WEBHOOK_HUB_ENV,
  });
  try {
    const { seconds: prefillS } = await o.client.call<{ seconds: number }>("postBatches", {
      origin: hub.origin,
      topic: o.topic,
      count: o.count,
      batchSize: 500,
      connections: 2,
    });
    const cpu = await withCpu(o.pids(hub.pid), async () => {
      const t0 = nowAbsMs();
      return ((await o.deliver(hub.origin)) - t0) / 1000;
    });
    return { run: { ...runFrom(o.count, cpu.result, cpu), prefillS }, cpu };
  } finally {
    await hub.stop();
  }
}
