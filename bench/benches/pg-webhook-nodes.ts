import type { Bench } from "../lib/context.js";
import { dropDatabase } from "../lib/pg-server.js";
import { CORES, spawnWorker, type ServerProcess } from "../lib/processes.js";
import { row } from "../lib/report.js";
import { interleave } from "../lib/stats.js";
import { cpuText, freshDatabase, PG_MAX_IN_FLIGHT, PG_SUBSCRIPTIONS, startPgHub, timeHubDelivery, type HubDeliveryRun } from "./pg-webhook.js";

type Arm = "one" | "two";

/**
 * Webhook delivery from one PostgreSQL database by two worker nodes against one: the pg-webhook workload, with an
 * `api` node taking the POSTs and creating the subscriptions, and one or two `worker` nodes (each its own
 * `node dist/main.js`) delivering them. The workers share the subscriptions through their leases; how many each
 * held is read from the database after each round and reported.
 */
export const pgWebhookNodesBench: Bench = {
  name: "pg-webhook-nodes",
  title: "webhook deliveries/s on PostgreSQL, 2 worker nodes vs 1",
  async run(ctx) {
    const events = ctx.quick ? 2_500 : 12_500;
    const client = await spawnWorker("client");
    const receiver = await spawnWorker("receiver");
    const runs: Record<Arm, HubDeliveryRun[]> = { one: [], two: [] };
    try {
      const { port } = await receiver.call<{ port: number }>("receiverStart", { port: 0, measure: false });
      const url = `http://127.0.0.1:${port}/hook`;
      let round = 0;
      for (const arm of interleave<Arm>("one", "two", ctx.rounds)) {
        round++;
        const db = await freshDatabase(`nodes_${arm}_${round}`);
        const started: ServerProcess[] = [];
        try {
          // One at a time: each runs the migrations at start.
          const api = await startPgHub(ctx, `pg-webhook-nodes-${arm}-${round}-api`, db.url, { SWITCHBOARD_ROLE: "api" });
          started.push(api);
          const nodes = [{ label: "api", server: api }];
          for (let w = 1; w <= (arm === "one" ? 1 : 2); w++) {
            const worker = await startPgHub(ctx, `pg-webhook-nodes-${arm}-${round}-worker${w}`, db.url, { SWITCHBOARD_ROLE: "worker" });
            started.push(worker);
            nodes.push({ label: `worker${w}`, server: worker });
          }
          const r = await timeHubDelivery({ api, nodes, client, receiver, url, database: db, events });
          runs[arm].push(r);
          ctx.log(
            `${arm === "one" ? "1 worker " : "2 workers"} ${Math.round(r.perSec)} deliveries/s (${r.deliveries} in ${r.seconds.toFixed(2)} s, all recorded at ${r.recordedS.toFixed(2)} s; ` +
              `subscriptions per worker ${r.leases.join("+")}; cpu: ${cpuText(r.cpuPct, r.postgresCpuPct, r.otherCpuPct)}; machine ${r.machineCpuPct.toFixed(0)}% of ${CORES * 100}%)`,
          );
        } finally {
          await Promise.all(started.map((s) => s.stop()));
          await dropDatabase(db.name);
        }
      }
    } finally {
      await receiver.call("receiverStop", null).catch(() => undefined);
      await Promise.all([client.close(), receiver.close()]);
    }
    const best = (arm: Arm) => runs[arm].reduce((a, b) => (b.perSec > a.perSec ? b : a));
    const two = best("two");
    const one = best("one");
    return {
      rows: [
        row({
          bench: "pg-webhook-nodes",
          metric: `deliveries/s, 2 worker nodes vs 1 (+ an api node), ${PG_SUBSCRIPTIONS} subscriptions × ${events} events, max_in_flight ${PG_MAX_IN_FLIGHT}`,
          unit: "/s",
          hub: two.perSec,
          baseline: one.perSec,
          target: null,
          note:
            `subscriptions per worker in the 2-worker rounds: ${runs.two.map((r) => r.leases.join("+")).join(", ")}; ` +
            `cpu: 2 workers ${cpuText(two.cpuPct, two.postgresCpuPct, two.otherCpuPct)}, machine ${two.machineCpuPct.toFixed(0)}%; ` +
            `1 worker ${cpuText(one.cpuPct, one.postgresCpuPct, one.otherCpuPct)}, machine ${one.machineCpuPct.toFixed(0)}% (of ${CORES * 100}%)`,
        }),
        row({
          bench: "pg-webhook-nodes",
          metric: "deliveries/s until every attempt is recorded, 2 workers vs 1",
          unit: "/s",
          hub: two.deliveries / two.recordedS,
          baseline: one.deliveries / one.recordedS,
          target: null,
        }),
      ],
      details: { events, subscriptions: PG_SUBSCRIPTIONS, maxInFlight: PG_MAX_IN_FLIGHT, runs },
    };
  },
};
