#!/usr/bin/env node
// Soak: a built hub (`node dist/main.js`, SQLite) under mixed load for a long while, its RSS and event-loop delay
// sampled every 10 s from /metrics. Load: `--rate` events/s (default 1000; batches and single posts), `--streams`
// SSE streams (default 100; a fifth of them reconnect every 3-6 s with Last-Event-ID), `--webhooks` subscriptions
// (default 20, one topic each) to local receivers, of which `--failing` (default 2) always answer 500, so retries
// and dead letters happen. Prints a table, writes CSV, JSON and an SVG plot, and exits 1 when RSS or the delay grew
// after warm-up beyond the bounds (see soak-report.mjs). Usage: npm run build && npm run soak -- --minutes 10
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { COLUMNS, tableRow, toCsv, toSvg, verdict } from "./soak-report.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    rate: { type: "string", default: "1000" },
    streams: { type: "string", default: "100" },
    webhooks: { type: "string", default: "20" },
    failing: { type: "string", default: "2" },
    "sample-s": { type: "string", default: "10" },
    "rss-growth": { type: "string", default: "0.15" },
    "rss-slack-mib": { type: "string", default: "10" },
    "delay-factor": { type: "string", default: "2" },
    "delay-slack-ms": { type: "string", default: "20" },
    svg: { type: "string", default: "docs/operations/soak.svg" },
    csv: { type: "string", default: "docs/operations/soak.csv" },
    json: { type: "string", default: "bench/results/soak.json" },
  },
});
const num = (name) => {
  const v = Number(opts[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number, got ${opts[name]}`);
  return v;
};
const minutes = num("minutes");
const rate = num("rate");
const streamCount = num("streams");
const webhookCount = Math.max(1, num("webhooks"));
const failingCount = Math.min(num("failing"), webhookCount);
const sampleMs = num("sample-s") * 1000;
const bounds = { rssGrowth: num("rss-growth"), rssSlackMib: num("rss-slack-mib"), delayFactor: num("delay-factor"), delaySlackMs: num("delay-slack-ms") };

const mainJs = join(root, "dist", "main.js");
if (!existsSync(mainJs)) {
  console.error("dist/main.js is missing: run `npm run build` first (the soak runs the built hub).");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
/** Samples and setup get their own connections: queued behind the load's, they would come late. */
const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });
/** Replies other than 201 to the load's posts, by status (0: no reply). */
const postErrorStatuses = {};
const counters = { acked: 0, postErrors: 0, frames: 0, reconnects: 0, webhooksOk: 0, webhooksFailed: 0, behind: 0 };

/** A request to the hub; resolves with status and body text. */
function call(port, method, path, body, via = probeAgent) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent: via,
        headers: data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {},
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function freePort() {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** One receiver for every subscription: `/hook/<i>` answers 500 for the first `failingCount`, else 204. */
async function startReceivers() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const i = Number(req.url.split("/").pop());
      if (i < failingCount) {
        counters.webhooksFailed++;
        res.writeHead(500).end();
      } else {
        counters.webhooksOk++;
        res.writeHead(204).end();
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

/** An SSE stream on one topic; with `churnMs` it reconnects (with Last-Event-ID) every churnMs..2*churnMs. */
function startStream(port, topic, churnMs) {
  let lastId;
  let req;
  let stopped = false;
  let timer;
  const open = () => {
    if (stopped) return;
    const headers = { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) };
    req = http.get({ host: "127.0.0.1", port, path: `/events?topic=${topic}`, headers }, (res) => {
      let carry = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        const text = carry + chunk;
        const cut = text.lastIndexOf("\n");
        carry = text.slice(cut + 1);
        for (const m of text.slice(0, cut + 1).matchAll(/^id: (.+)$/gm)) {
          lastId = m[1];
          counters.frames++;
        }
      });
      res.on("close", () => reopen());
    });
    req.on("error", () => reopen());
    if (churnMs) timer = setTimeout(() => req.destroy(), churnMs + Math.random() * churnMs);
  };
  const reopen = () => {
    clearTimeout(timer);
    if (stopped) return;
    counters.reconnects++;
    setTimeout(open, 50);
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    req?.destroy();
  };
}

function postError(status) {
  counters.postErrors++;
  postErrorStatuses[status] = (postErrorStatuses[status] ?? 0) + 1;
}

/** Publishes `rate` events/s over the topics: every 10 ms two single posts and a batch of what else is owed. */
function startLoad(port, topics) {
  let owed = 0;
  let last = Date.now();
  let inFlight = 0;
  let n = 0;
  const post = (body, events) => {
    inFlight++;
    call(port, "POST", "/api/events", body, agent)
      .then((r) => (r.status === 201 ? (counters.acked += events) : postError(r.status)))
      .catch(() => postError(0))
      .finally(() => inFlight--);
  };
  const event = () => ({ topic: topics[n % topics.length], data: { n: n++, at: Date.now(), pad: "x".repeat(200) } });
  const timer = setInterval(() => {
    // By the clock, not by ticks: a late timer (a busy machine) must not lower the rate.
    const now = Date.now();
    owed += (rate * (now - last)) / 1000;
    last = now;
    let count = Math.floor(owed);
    owed -= count;
    if (inFlight > 128) {
      counters.behind += count;
      return;
    }
    const singles = Math.min(2, count);
    for (let i = 0; i < singles; i++) post(event(), 1);
    count -= singles;
    if (count > 0) post(Array.from({ length: count }, event), count);
  }, 10);
  return () => clearInterval(timer);
}

function metricValue(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

function rssFromProc(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-soak-"));
  const port = await freePort();
  const receivers = await startReceivers();
  const hookBase = `http://127.0.0.1:${receivers.address().port}/hook`;
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: `sqlite:${join(dir, "hub.db")}`,
    LOG_LEVEL: "warn",
    SWITCHBOARD_AUTH: "none",
    SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true",
    SWITCHBOARD_CONSOLE: "false",
  };
  const hub = spawn(process.execPath, [mainJs], { env, stdio: ["ignore", "ignore", "inherit"] });
  let hubExited = false;
  let stopping = false;
  let diedEarly = false;
  hub.on("exit", (code) => {
    hubExited = true;
    diedEarly = !stopping;
    if (diedEarly) console.error(`the hub exited early (code ${code})`);
  });
  const cleanup = () => {
    if (!hubExited) hub.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("SIGTERM", () => {
    cleanup();
    process.exit(143);
  });
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });

  for (let i = 0; ; i++) {
    const ok = await call(port, "GET", "/ready").then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (i > 200 || hubExited) throw new Error("the hub did not become ready");
    await sleep(100);
  }
  const topics = Array.from({ length: webhookCount }, (_, i) => `soak.t${i}`);
  for (const [i, topic] of topics.entries()) {
    const failing = i < failingCount;
    const body = { topic, url: `${hookBase}/${i}`, ...(failing ? { retry: { schedule: [0, 1, 2, 4] } } : {}) };
    const r = await call(port, "POST", "/api/subscriptions", body);
    if (r.status !== 201) throw new Error(`creating a subscription: ${r.status} ${r.text}`);
  }
  const stopStreams = Array.from({ length: streamCount }, (_, k) => startStream(port, topics[k % topics.length], k % 5 === 0 ? 3_000 : 0));
  const stopLoad = startLoad(port, topics);

  const samples = [];
  const started = Date.now();
  const endAt = started + minutes * 60_000;
  let previous = { ...counters, at: started };
  console.log(`soak: ${minutes} min, ${rate} events/s, ${streamCount} streams, ${webhookCount} webhooks (${failingCount} failing), hub pid ${hub.pid}`);
  console.log(tableRow(COLUMNS));
  // Whole windows only: a short last one would weigh as much as the others in the thirds' means.
  for (let next = started + sampleMs; next <= endAt && !hubExited; next += sampleMs) {
    await sleep(Math.max(0, next - Date.now()));
    const now = Date.now();
    const metrics = await call(port, "GET", "/metrics").then(
      (r) => r.text,
      () => "",
    );
    const rss = metricValue(metrics, "process_resident_memory_bytes") ?? rssFromProc(hub.pid);
    const secs = (now - previous.at) / 1000;
    const sample = {
      t_s: Math.round((now - started) / 1000),
      rss_mib: rss / 2 ** 20,
      loop_p99_ms: (metricValue(metrics, "switchboard_event_loop_delay_p99_seconds") ?? NaN) * 1000,
      events_per_s: (counters.acked - previous.acked) / secs,
      post_errors: counters.postErrors - previous.postErrors,
      stream_frames_per_s: (counters.frames - previous.frames) / secs,
      reconnects: counters.reconnects - previous.reconnects,
      webhooks_ok: counters.webhooksOk - previous.webhooksOk,
      webhooks_failed: counters.webhooksFailed - previous.webhooksFailed,
      dead: metricValue(metrics, "switchboard_deliveries_dead_total") ?? 0,
    };
    samples.push(sample);
    previous = { ...counters, at: now };
    console.log(tableRow(COLUMNS.map((c) => sample[c])));
  }

  stopLoad();
  for (const stop of stopStreams) stop();
  stopping = true;
  if (!hubExited) {
    hub.kill("SIGTERM");
    await new Promise((r) => (hubExited ? r() : hub.once("exit", r)));
  }
  receivers.close();
  agent.destroy();
  probeAgent.destroy();
  cleanup();

  const result = verdict(samples, bounds);
  const summary = {
    minutes,
    load: { rate, streams: streamCount, webhooks: webhookCount, failing: failingCount },
    totals: { ...counters, postErrorStatuses },
    bounds,
    verdict: result,
    samples,
  };
  for (const [file, text] of [
    [opts.json, JSON.stringify(summary, null, 2) + "\n"],
    [opts.csv, toCsv(samples)],
    [
      opts.svg,
      toSvg(
        samples,
        `Soak: ${minutes} min, ${rate} events/s asked (${Math.round(counters.acked / (minutes * 60))}/s acknowledged), ${streamCount} streams, ` +
          `${webhookCount} webhooks (${failingCount} failing)`,
      ),
    ],
  ]) {
    const path = resolve(root, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  const f = (v) => (Number.isFinite(v) ? v.toFixed(1) : String(v));
  console.log(
    `\nevents acknowledged ${counters.acked} (${f(counters.acked / (minutes * 60))}/s), post errors ${counters.postErrors}, ` +
      `held back (over 128 in flight) ${counters.behind}, stream frames ${counters.frames}, reconnects ${counters.reconnects}, ` +
      `webhooks ok ${counters.webhooksOk} failed ${counters.webhooksFailed}`,
  );
  console.log(
    `RSS (MiB): middle third ${f(result.rss.middle)}, last third ${f(result.rss.last)}, bound ${f(result.rss.limit)}: ${result.rss.flat ? "flat" : "GREW"}`,
  );
  console.log(
    `loop delay p99 (ms): middle third ${f(result.delay.middle)}, last third ${f(result.delay.last)}, bound ${f(result.delay.limit)}: ${result.delay.flat ? "flat" : "GREW"}`,
  );
  console.log(`wrote ${opts.csv}, ${opts.svg}, ${opts.json}`);
  if (diedEarly) process.exit(1);
  if (!result.enough) {
    console.error("too few samples for a verdict: run longer (at least 6 samples)");
    process.exit(2);
  }
  process.exit(result.rss.flat && result.delay.flat ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
