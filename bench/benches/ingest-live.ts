import type { Bench } from "../lib/context.js";
import { measurePostRate, POST_CONNECTIONS, postRateRows } from "./ingest.js";

/** The live-only topic the hub arm posts to (created with `storage: "none"` before the warm-up). */
const LIVE_TOPIC = "live.pulse";
/** The `ingest` bench's event, as an envelope naming the topic; both arms get these same bytes. */
export const LIVE_EVENT = JSON.stringify({ topic: LIVE_TOPIC, data: { msg: "data", timestamp: "1700000000" } });

/**
 * `POST /api/events` to a live-only topic (Pillarbox's case: nothing stored, no stream open) vs the bare node:http
 * server: the `ingest` bench's load and rounds, on the lean path that skips the store.
 */
export const ingestLiveBench: Bench = {
  name: "ingest-live",
  title: "single-event POST rate on a live-only topic",
  async run(ctx) {
    const { hub, base, runs, failures, durationS, warmupS } = await measurePostRate(ctx, {
      label: "ingest-live",
      body: LIVE_EVENT,
      async prepareHub(origin) {
        const res = await fetch(`${origin}/api/topics`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: LIVE_TOPIC, storage: "none" }),
        });
        if (res.status !== 201) throw new Error(`creating the live-only topic answered ${res.status}: ${await res.text()}`);
      },
    });
    return {
      rows: postRateRows(
        "ingest-live",
        `POST rate on a live-only topic, ${POST_CONNECTIONS} conns (vs bare node:http)`,
        { on: "ratio", op: ">=", value: 0.85 },
        hub,
        base,
        failures,
      ),
      details: { durationS, warmupS, connections: POST_CONNECTIONS, pipelining: 1, body: LIVE_EVENT, runs },
    };
  },
};
