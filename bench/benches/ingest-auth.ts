import type { Bench } from "../lib/context.js";
import { measurePostRate, POST_CONNECTIONS, postRateRows, SMALL_EVENT } from "./ingest.js";

/**
 * The `ingest` bench with auth on, as production hubs run: the hub arm creates one API key (`publish:**`) before the
 * warm-up, and every request carries it as a bearer token, so each one is authenticated, rate limited (with the
 * bench's very high limit) and scope checked. The bare server gets the same header and ignores it.
 */
export const ingestAuthBench: Bench = {
  name: "ingest-auth",
  title: "single-event POST rate with an API key",
  async run(ctx) {
    const { hub, base, runs, failures, durationS, warmupS } = await measurePostRate(ctx, {
      label: "ingest-auth",
      body: SMALL_EVENT,
      // An API key's size (`sbk_` and 43 characters), until the first hub arm has made the real one.
      headers: { authorization: `Bearer sbk_${"x".repeat(43)}` },
      async prepareHub(origin) {
        // The first key needs no credential: it is what turns auth on.
        const res = await fetch(`${origin}/api/keys`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "bench", scopes: ["publish:**"] }),
        });
        if (res.status !== 201) throw new Error(`creating the API key answered ${res.status}: ${await res.text()}`);
        const { token } = (await res.json()) as { token: string };
        return { authorization: `Bearer ${token}` };
      },
    });
    return {
      rows: postRateRows("ingest-auth", `POST /api/events with an API key, ${POST_CONNECTIONS} conns (vs bare node:http)`, null, hub, base, failures),
      details: { durationS, warmupS, connections: POST_CONNECTIONS, pipelining: 1, body: SMALL_EVENT, auth: "API key", runs },
    };
  },
};
