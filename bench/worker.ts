/**
 * A bench child process: the load client (autocannon, SSE readers, query client) or the raw SQLite baseline,
 * driven by bench/run.ts over IPC. Hub and baseline servers are driven by this same code with the same arguments.
 * It runs as plain JavaScript (bench/run.ts transpiles bench/ first), never under a TypeScript loader: under tsx
 * the same autocannon run measured 20-40% fewer requests per second.
 */
import autocannon from "autocannon";
import { execFileSync } from "node:child_process";
import { Pool } from "undici";
import { importDist } from "./lib/dist.js";
import { prefillEvents, queryDirect } from "./lib/event-log.js";
import { nowAbsMs, receiver, type ReceiverStats } from "./lib/receiver.js";
import { openSseSocket, SseSocket } from "./lib/sse-socket.js";
import { INSERT_EVENT_SQL, openBaselineDb } from "./lib/sqlite-baseline.js";
import { fillRollups, statsDirect } from "./lib/stats-fill.js";
import { serveOverIpc, type IpcHandler } from "./lib/ipc-child.js";
import { barePublish } from "./lib/broker-bare.js";
import { sinkClose, sinkCreate, sinkWait } from "./lib/broker-sinks.js";
import { webhookData } from "./lib/webhook-data.js";
import { summarize, type Summary } from "./lib/stats.js";

type Handler = IpcHandler;

/** What one `load` command measured. */
export interface LoadResult {
  /** 2xx responses per second over the measured duration. */
  okPerSec: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** CPU this client used, % of one core: near 100 means the client, not the server, may be the limit. */
  clientCpuPct: number;
}

/** Closed-loop HTTP load with autocannon: `connections` clients each sending the same request back to back. */
async function load(args: {
  url: string;
  body: string;
  /** Headers sent besides `content-type` (e.g. `authorization`). */
  headers?: Record<string, string>;
  connections: number;
  pipelining: number;
  durationS: number;
}): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await autocannon({
    url: args.url,
    method: "POST",
    headers: { "content-type": "application/json", ...args.headers },
    body: args.body,
    connections: args.connections,
    pipelining: args.pipelining,
    duration: args.durationS,
  });
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const ok = r["2xx"];
  return {
    okPerSec: ok / r.duration,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    clientCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / wallMs,
  };
}

// ---- SSE streams held by this process between commands ----

let streams: SseSocket[] = [];
/** The event being waited for by `sseRun`. */
let awaited: { i: number; left: number; latencies: Float64Array; n: number; lastAt: number; done: () => void } | undefined;
let strayFrames = 0;

function onFrame(data: string, at: number): void {
  const m = JSON.parse(data) as { i: number; t: number };
  const w = awaited;
  if (!w || m.i !== w.i) {
    strayFrames++;
    return;
  }
  w.latencies[w.n++] = at - m.t;
  if (at > w.lastAt) w.lastAt = at;
  if (--w.left === 0) w.done();
}

/**
 * Opens `count` SSE streams, at most `concurrency` connecting at once, and resolves when every one has its
 * preamble. `measure` parses frames for `sseRun`; without it the streams are only drained.
 */
async function openStreams(args: {
  origin: string;
  path: string;
  count: number;
  concurrency: number;
  measure: boolean;
}): Promise<{ opened: number; ms: number }> {
  const { hostname, port } = new URL(args.origin);
  const t0 = performance.now();
  let next = 0;
  const opened: SseSocket[] = [];
  const lane = async () => {
    while (next < args.count) {
      next++;
      opened.push(await openSseSocket({ host: hostname, port: Number(port), path: args.path, onData: args.measure ? onFrame : undefined, timeoutMs: 20_000 }));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(args.concurrency, args.count) }, lane));
  } catch (error) {
    for (const s of opened) s.close();
    throw error;
  }
  streams.push(...opened);
  return { opened: opened.length, ms: performance.now() - t0 };
}

async function closeStreams(): Promise<{ closed: number; bytes: number }> {
  let bytes = 0;
  for (const s of streams) {
    bytes += s.bytes;
    s.close();
  }
  const closed = streams.length;
  streams = [];
  return { closed, bytes };
}

/** What one `connectBurst` command measured. */
export interface BurstResult {
  count: number;
  /** Streams whose response headers arrived; the others failed (`firstError`) or timed out. */
  ok: number;
  firstError?: string;
  /** How long this process took to call connect() for all of them: its own share of the burst. */
  issueMs: number;
  /** First connect() call → the last stream's response headers read: the figure the target is on. */
  allHeadersMs: number;
  /** Per stream: its connect() call → its response headers read. */
  headers: Summary;
  /** Per stream: connect() call → TCP established (the server's accept queue: a full one means SYN retries). */
  connect: Summary;
  /** Per stream: TCP established → response headers read (the server's per-request work, and this process's loop). */
  serve: Summary;
  clientCpuPct: number;
  /** This process's CPU over the burst, user (JavaScript) and system (the kernel: loopback TCP of both ends runs in the caller's syscalls), ms. */
  clientUserMs: number;
  clientSystemMs: number;
  /**
   * Streams whose SYN the kernel sent more than once, read from `ss` (TCP_INFO's total_retrans) before they close:
   * a SYN dropped by a full accept queue is sent again 1 s later, then 3 s after the first. Undefined without `ss`.
   */
  synRetried?: { once: number; more: number };
}

/** Per open connection to `port` from this process: how many times it sent a segment again (its SYN, on loopback). */
function retransmitsTo(port: number): number[] | undefined {
  let out: string;
  try {
    out = execFileSync("ss", ["-Htin", "state", "established", "dport", "=", `:${port}`], { encoding: "utf8", maxBuffer: 64 << 20 });
  } catch {
    return undefined;
  }
  const counts: number[] = [];
  // Each socket is a line of addresses, then one of TCP_INFO; `retrans:<now>/<total>` only when the total is not 0.
  for (const line of out.split("\n")) {
    if (!line.includes("rtt:")) continue;
    const m = /\bretrans:\d+\/(\d+)/.exec(line);
    counts.push(m ? Number(m[1]) : 0);
  }
  return counts;
}

/**
 * Opens `count` SSE streams all at once (every connect() called in one loop, before any answer is read) and
 * times each until its response headers have been read. The streams are closed before it returns.
 */
async function connectBurst(args: { origin: string; path: string; count: number; timeoutMs: number }): Promise<BurstResult> {
  const { hostname, port } = new URL(args.origin);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const opened: { socket: SseSocket; issuedAt: number }[] = [];
  for (let i = 0; i < args.count; i++) {
    const issuedAt = performance.now();
    opened.push({ socket: new SseSocket({ host: hostname, port: Number(port), path: args.path, timeoutMs: args.timeoutMs }), issuedAt });
  }
  const issueMs = performance.now() - t0;
  const outcomes = await Promise.allSettled(opened.map((o) => o.socket.opened));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const retransmits = retransmitsTo(Number(port));
  const headers: number[] = [];
  const connect: number[] = [];
  const serve: number[] = [];
  let lastAt = t0;
  let firstError: string | undefined;
  for (const [i, { socket, issuedAt }] of opened.entries()) {
    const outcome = outcomes[i]!;
    if (outcome.status === "rejected") firstError ??= String((outcome.reason as Error).message ?? outcome.reason);
    if (socket.headersAt === undefined || socket.connectedAt === undefined) continue;
    headers.push(socket.headersAt - issuedAt);
    connect.push(socket.connectedAt - issuedAt);
    serve.push(socket.headersAt - socket.connectedAt);
    if (socket.headersAt > lastAt) lastAt = socket.headersAt;
    socket.close();
  }
  for (const { socket } of opened) socket.close();
  return {
    count: args.count,
    ok: headers.length,
    firstError,
    issueMs,
    allHeadersMs: lastAt - t0,
    headers: summarize(headers),
    connect: summarize(connect),
    serve: summarize(serve),
    clientCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / wallMs,
    clientUserMs: cpu.user / 1000,
    clientSystemMs: cpu.system / 1000,
    synRetried: retransmits && { once: retransmits.filter((n) => n === 1).length, more: retransmits.filter((n) => n > 1).length },
  };
}

/** What one `sseRun` command measured. */
export interface SseRunResult {
  events: number;
  streams: number;
  /** Per stream and event: frame read − POST sent, ms. */
  perFrame: Summary;
  /** Per event: last stream's frame read − POST sent, ms. */
  allStreams: Summary;
  /** POST sent → response read, ms. */
  post: Summary;
  strayFrames: number;
  clientCpuPct: number;
}

/**
 * Posts `{i, t}` events one at a time (t = send time, performance.now()) and waits for each to arrive on every
 * open stream (and for its 201) before the next. The first `warmup` events are not counted.
 */
async function sseRun(args: { origin: string; events: number; warmup: number; maxMs: number; gapMs: number; frameTimeoutMs: number }): Promise<SseRunResult> {
  const n = streams.length;
  if (n === 0) throw new Error("no streams open");
  const pool = new Pool(args.origin, { connections: 1, pipelining: 1 });
  const perFrame: number[] = [];
  const allStreams: number[] = [];
  const post: number[] = [];
  strayFrames = 0;
  const deadline = performance.now() + args.maxMs;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let measured = 0;
  try {
    for (let i = 0; i < args.warmup + args.events && performance.now() < deadline; i++) {
      const latencies = new Float64Array(n);
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<void>((resolve, reject) => {
        awaited = { i, left: n, latencies, n: 0, lastAt: 0, done: resolve };
        timer = setTimeout(() => reject(new Error(`event ${i} reached ${awaited!.n} of ${n} streams within ${args.frameTimeoutMs} ms`)), args.frameTimeoutMs);
      });
      const t = performance.now();
      const body = JSON.stringify({ i, t });
      const posted = pool.request({ path: "/api/events", method: "POST", headers: { "content-type": "application/json" }, body }).then(async (res) => {
        await res.body.text();
        if (res.statusCode !== 201) throw new Error(`POST answered ${res.statusCode}`);
        return performance.now() - t;
      });
      const [postMs] = await Promise.all([posted, arrived]).finally(() => clearTimeout(timer));
      const last = awaited!.lastAt;
      awaited = undefined;
      if (i >= args.warmup) {
        for (const v of latencies) perFrame.push(v);
        allStreams.push(last - t);
        post.push(postMs);
        measured++;
      }
      if (args.gapMs > 0) await new Promise((r) => setTimeout(r, args.gapMs));
    }
  } finally {
    awaited = undefined;
    await pool.close();
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    events: measured,
    streams: n,
    perFrame: summarize(perFrame),
    allStreams: summarize(allStreams),
    post: summarize(post),
    strayFrames,
    clientCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - t0),
  };
}

/** GETs each path in turn (one connection, one request in flight) and times request → whole body read. */
async function queries(args: { origin: string; paths: string[]; warmup: number; maxMs: number }): Promise<{ latency: Summary; meanRows: number }> {
  const pool = new Pool(args.origin, { connections: 1, pipelining: 1 });
  const latencies: number[] = [];
  let rows = 0;
  const deadline = performance.now() + args.maxMs;
  try {
    for (let i = 0; i < args.paths.length && performance.now() < deadline; i++) {
      const t = performance.now();
      const res = await pool.request({ path: args.paths[i]!, method: "GET" });
      const text = await res.body.text();
      const ms = performance.now() - t;
      if (res.statusCode !== 200) throw new Error(`GET ${args.paths[i]} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      if (i < args.warmup) continue;
      latencies.push(ms);
      const answer = JSON.parse(text) as { data?: unknown[]; buckets?: unknown[] };
      rows += (answer.data ?? answer.buckets ?? []).length;
    }
  } finally {
    await pool.close();
  }
  return { latency: summarize(latencies), meanRows: rows / Math.max(1, latencies.length) };
}

/**
 * The raw SQLite baseline of batch ingest: the store's insert statement, one transaction per `batchSize` rows
 * shaped as the hub stores them (fresh ULID ids, the same data text), for `durationS` after `warmupS`.
 */
async function sqliteInsert(args: {
  path: string;
  batchSize: number;
  topic: string;
  dataJson: string[];
  durationS: number;
  warmupS: number;
}): Promise<{ eventsPerSec: number; events: number; durationS: number }> {
  const { newEventId } = await importDist<typeof import("../src/ids.js")>("ids.js");
  const db = await openBaselineDb(args.path, { migrate: true });
  const insert = db.prepare(INSERT_EVENT_SQL);
  let seq = 1;
  const insertBatch = db.transaction((now: number) => {
    for (let j = 0; j < args.batchSize; j++) {
      insert.run(seq++, newEventId(now), args.topic, null, null, null, now, null, args.dataJson[j % args.dataJson.length]!, null, now, null, null);
    }
  });
  const run = (seconds: number) => {
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let events = 0;
    while (performance.now() < end) {
      insertBatch.immediate(Date.now());
      events += args.batchSize;
    }
    return { events, seconds: (performance.now() - t0) / 1000 };
  };
  try {
    run(args.warmupS);
    const { events, seconds } = run(args.durationS);
    return { eventsPerSec: events / seconds, events, durationS: seconds };
  } finally {
    db.close();
  }
}

// ---- webhook benches: the receiver (in a child of its own) and the clients that feed it ----

/** Posts `count` events `{topic, data: webhookData(n)}` to the hub in arrays of `batchSize`, `connections` at a time. */
async function postBatches(args: { origin: string; topic: string; count: number; batchSize: number; connections: number }): Promise<{ seconds: number }> {
  const pool = new Pool(args.origin, { connections: args.connections, pipelining: 1 });
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < args.count) {
      const from = next;
      const to = Math.min(args.count, from + args.batchSize);
      next = to;
      const parts: string[] = [];
      for (let n = from; n < to; n++) parts.push(`{"topic":${JSON.stringify(args.topic)},"data":${webhookData(n)}}`);
      const res = await pool.request({ path: "/api/events", method: "POST", headers: { "content-type": "application/json" }, body: `[${parts.join(",")}]` });
      const text = await res.body.text();
      if (res.statusCode !== 201) throw new Error(`POST batch answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: args.connections }, lane));
  } finally {
    await pool.close();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/**
 * The baseline of the webhook bench: a bare loop of undici POSTs to the receiver, `concurrency` at a time over as
 * many keep-alive connections, bodies of the same text the hub sends. Returns when all `count` were answered.
 */
async function bareWebhooks(args: {
  url: string;
  count: number;
  concurrency: number;
}): Promise<{ startAtMs: number; endAtMs: number; non2xx: number; clientCpuPct: number }> {
  const url = new URL(args.url);
  const pool = new Pool(url.origin, { connections: args.concurrency, pipelining: 1 });
  const cpu0 = process.cpuUsage();
  const startAtMs = nowAbsMs();
  let next = 0;
  let non2xx = 0;
  const lane = async () => {
    while (next < args.count) {
      const n = next++;
      const res = await pool.request({ path: url.pathname, method: "POST", headers: { "content-type": "application/json" }, body: webhookData(n) });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
    }
  };
  try {
    await Promise.all(Array.from({ length: args.concurrency }, lane));
  } finally {
    await pool.close();
  }
  const endAtMs = nowAbsMs();
  const cpu = process.cpuUsage(cpu0);
  return { startAtMs, endAtMs, non2xx, clientCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / (endAtMs - startAtMs) };
}

/**
 * Open-loop load: one POST every 1000/rate ms for `durationS`, whatever the answers, each body carrying its send time
 * `t` (absolute ms). `topic` set: posts `{topic, data: {i, t}}` (the hub); unset: posts `{i, t}` (the receiver).
 */
async function steadyPost(args: {
  url: string;
  topic?: string;
  rate: number;
  durationS: number;
  connections: number;
}): Promise<{ sent: number; failed: number; lateMs: number; clientCpuPct: number }> {
  const url = new URL(args.url);
  const pool = new Pool(url.origin, { connections: args.connections, pipelining: 1 });
  const total = Math.round(args.rate * args.durationS);
  const gap = 1000 / args.rate;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let failed = 0;
  let lateMs = 0;
  const pending = new Set<Promise<void>>();
  try {
    while (sent < total) {
      const now = performance.now();
      while (sent < total && t0 + sent * gap <= now) {
        lateMs = Math.max(lateMs, now - (t0 + sent * gap));
        const t = nowAbsMs();
        const data = `{"i":${sent},"t":${t}}`;
        const body = args.topic === undefined ? data : `{"topic":${JSON.stringify(args.topic)},"data":${data}}`;
        sent++;
        const p: Promise<void> = pool
          .request({ path: url.pathname, method: "POST", headers: { "content-type": "application/json" }, body })
          .then(async (res) => {
            await res.body.dump();
            if (res.statusCode < 200 || res.statusCode >= 300) failed++;
          })
          .catch(() => {
            failed++;
          })
          .finally(() => pending.delete(p));
        pending.add(p);
      }
      const wait = t0 + sent * gap - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(wait, 1))));
    }
    await Promise.all(pending);
  } finally {
    await pool.close();
  }
  const cpu = process.cpuUsage(cpu0);
  return { sent, failed, lateMs, clientCpuPct: (100 * (cpu.user + cpu.system)) / 1000 / (performance.now() - t0) };
}

const handlers: Record<string, Handler> = {
  ping: async () => "pong",
  load: load as Handler,
  openStreams: openStreams as Handler,
  closeStreams: closeStreams as Handler,
  connectBurst: connectBurst as Handler,
  sseRun: sseRun as Handler,
  queries: queries as Handler,
  sqliteInsert: sqliteInsert as Handler,
  prefill: prefillEvents as Handler,
  queryDirect: queryDirect as Handler,
  fillRollups: fillRollups as Handler,
  statsDirect: statsDirect as Handler,
  postBatches: postBatches as Handler,
  bareWebhooks: bareWebhooks as Handler,
  steadyPost: steadyPost as Handler,
  receiverStart: ((args: { port: number; measure: boolean }) => receiver.start(args)) as Handler,
  receiverStats: (async () => receiver.stats()) as Handler,
  receiverReset: (async (args: { measure: boolean }) => receiver.reset(args.measure)) as Handler,
  receiverWait: ((args: { count: number; distinct: boolean; timeoutMs: number }): Promise<ReceiverStats> =>
    receiver.waitFor(args.count, args.distinct, args.timeoutMs)) as Handler,
  receiverLatencies: (async (): Promise<Summary & { samples: number }> => {
    const l = receiver.takeLatencies();
    return { ...summarize(l), samples: l.length };
  }) as Handler,
  receiverStop: (() => receiver.stop()) as Handler,
  sinkCreate: sinkCreate as Handler,
  sinkWait: sinkWait as Handler,
  sinkClose: sinkClose as Handler,
  barePublish: barePublish as Handler,
};

// The parent went away (or closed us): stop.
serveOverIpc(handlers, () => {
  for (const s of streams) s.close();
});
