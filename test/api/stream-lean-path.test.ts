import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { createStreamFastPath, type StreamFastPathOptions } from "../../src/api/stream-fast-path.js";
import type { StreamHub } from "../../src/delivery/sse/stream-hub.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { postJson } from "../helpers/hub.js";

// The lean path of plain stream opens (src/api/stream-fast-path.ts) against fastify's answer to the same request: the
// hub's own server (lean path first) and a second server on the same app that only calls fastify's handler.

interface Arms {
  server: RunningServer;
  /** The hub's server: the lean path, then fastify. */
  lean: string;
  /** The same app through fastify's handler alone. */
  fastify: string;
  /** What the hub logged, parsed. */
  lines: Record<string, unknown>[];
  close(): Promise<void>;
}

async function startArms(overrides: Partial<Config> = {}): Promise<Arms> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-test-"));
  const lines: Record<string, unknown>[] = [];
  const config = loadConfig({
    env: {},
    overrides: { port: 0, host: "127.0.0.1", logLevel: "info", databaseUrl: `sqlite:${join(dir, "hub.db")}`, ...overrides },
  });
  const server = await startServer(config, createLogger("info", {}, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }));
  const { fastify } = server.app;
  const fastifyOnly: Server = createServer((req: IncomingMessage, res: ServerResponse) => fastify.routing(req, res));
  fastifyOnly.keepAliveTimeout = fastify.server.keepAliveTimeout;
  await new Promise<void>((resolve) => fastifyOnly.listen(0, "127.0.0.1", resolve));
  return {
    server,
    lean: server.url,
    fastify: `http://127.0.0.1:${(fastifyOnly.address() as AddressInfo).port}`,
    lines,
    async close() {
      fastifyOnly.closeAllConnections();
      await new Promise<void>((resolve) => fastifyOnly.close(() => resolve()));
      await server.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A GET over a raw socket: the bytes read until `until` matches them (then the socket is closed) or the server closes
 * the connection.
 */
function rawGet(origin: string, path: string, headers: Record<string, string>, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(origin).port), "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${path}: not read within 5 s: ${String(until)}; read ${JSON.stringify(text)}`));
    }, 5_000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    socket.setEncoding("latin1");
    socket.on("data", (s: string) => {
      text += s;
      if (until.test(text)) done();
    });
    socket.on("close", done);
    socket.on("error", reject);
    const head = Object.entries({ host: "hub", ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`);
  });
}

/** What may differ between two equal answers: the date, event ids, a JSON body's length. */
function normalised(text: string): string {
  return text
    .replace(/\r\ndate: [^\r]*/i, "\r\ndate: <date>")
    .replace(/evt_[0-9A-Z]{26}/g, "<id>")
    .replace(/\r\n[0-9a-f]+\r\n/g, "\r\n<size>\r\n");
}

/** Sends the same GET to both arms and expects the same bytes, up to `until`. */
async function expectSameAnswers(arms: Arms, path: string, headers: Record<string, string>, until: RegExp): Promise<string> {
  const lean = await rawGet(arms.lean, path, headers, until);
  const viaFastify = await rawGet(arms.fastify, path, headers, until);
  expect(normalised(lean)).toBe(normalised(viaFastify));
  return lean;
}

const SSE = { accept: "text/event-stream" };
const OPENED = /: connected\n\n\r\n/;
/** A complete non-streamed answer (a JSON error body). */
const ANSWERED = /\r\n\r\n\{.*\}$/s;

describe("plain stream opens answer as fastify does", () => {
  let arms: Arms;
  beforeAll(async () => {
    arms = await startArms({ auth: "none", sseRetryMs: 1234 });
  });
  afterAll(() => arms.close());

  it("GET /events: the same head and preamble, byte for byte", async () => {
    const text = await expectSameAnswers(arms, "/events", SSE, OPENED);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain("\r\nTransfer-Encoding: chunked\r\n");
    expect(text).toContain("retry: 1234\n: connected\n\n");
  });

  it("Last-Event-ID of a stored event: the events after it are replayed", async () => {
    const first = await postJson(`${arms.lean}/api/events`, { topic: "lean.resume", data: { n: 1 } });
    expect(first.status).toBe(201);
    expect((await postJson(`${arms.lean}/api/events`, { topic: "lean.resume", data: { n: 2 } })).status).toBe(201);
    const text = await expectSameAnswers(arms, "/events", { ...SSE, "last-event-id": (first.body as { id: string }).id }, /data: \{"n":2\}\n\n\r\n/);
    expect(text).not.toContain('{"n":1}');
  });

  it("an unknown Last-Event-ID: the reset frame", async () => {
    const text = await expectSameAnswers(arms, "/events", { ...SSE, "last-event-id": "evt_unknown" }, /event: switchboard\.reset\ndata: .*\n\n\r\n/);
    expect(text).toContain("SB_STREAM_RESUME_UNKNOWN");
  });

  it("a Last-Event-ID the route refuses is fastify's 400", async () => {
    const text = await expectSameAnswers(arms, "/events", { ...SSE, "last-event-id": "x".repeat(201) }, ANSWERED);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("topics and filters (fastify's): a matching event, and a filter that does not compile", async () => {
    const path = `/events?topic=lean.f.*&filter=${encodeURIComponent("data.n > 1")}`;
    const lean = rawGet(arms.lean, path, SSE, /data: \{"n":3\}\n\n\r\n/);
    const viaFastify = rawGet(arms.fastify, path, SSE, /data: \{"n":3\}\n\n\r\n/);
    await new Promise((r) => setTimeout(r, 200));
    for (const n of [1, 3]) expect((await postJson(`${arms.lean}/api/events`, { topic: "lean.f.a", data: { n } })).status).toBe(201);
    expect(normalised(await lean)).toBe(normalised(await viaFastify));
    expect(await lean).not.toContain('{"n":1}');
    const bad = await expectSameAnswers(arms, `/events?filter=${encodeURIComponent("data.n >")}`, SSE, ANSWERED);
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("logs the same lines for a stream", async () => {
    const closedLines = () => arms.lines.filter((l) => l.msg === "stream closed" || l.msg === "request completed");
    const before = closedLines().length;
    await rawGet(arms.lean, "/events", SSE, OPENED);
    await rawGet(arms.fastify, "/events", SSE, OPENED);
    const deadline = Date.now() + 5_000;
    while (closedLines().length < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const shape = (l: Record<string, unknown>) => ({ ...l, reqId: typeof l.reqId, durationMs: typeof l.durationMs, time: typeof l.time });
    const [lean, viaFastify] = closedLines().slice(before).map(shape);
    expect(lean).toEqual(viaFastify);
    expect(lean).toMatchObject({ msg: "stream closed", method: "GET", url: "/events", reqId: "string", durationMs: "number" });
  });
});

describe("with auth on, stream opens are fastify's", () => {
  const SECRET = "a-lean-stream-secret-of-enough-length-01";
  let arms: Arms;
  let readOther: string;
  beforeAll(async () => {
    arms = await startArms({ jwtSecret: SECRET });
    const { SignJWT } = await import("jose");
    readOther = await new SignJWT({ scope: "subscribe:other.*" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("reader")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(SECRET));
  });
  afterAll(() => arms.close());

  it("no token: 401", async () => {
    const text = await expectSameAnswers(arms, "/events", SSE, ANSWERED);
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text).toMatch(/\r\nwww-authenticate: Bearer realm="switchboard"\r\n/i);
  });

  it("a token without the stream's scope: 403", async () => {
    const text = await expectSameAnswers(arms, "/events", { ...SSE, authorization: `Bearer ${readOther}` }, ANSWERED);
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("a token within its scope: the stream", async () => {
    await expectSameAnswers(arms, "/events?topic=other.a", { ...SSE, authorization: `Bearer ${readOther}` }, OPENED);
  });
});

describe("no room for another stream", () => {
  let arms: Arms;
  beforeAll(async () => {
    arms = await startArms({ auth: "none", sseMaxStreams: 1 });
  });
  afterAll(() => arms.close());

  it("is fastify's 503 with Retry-After", async () => {
    const socket = connect(Number(new URL(arms.lean).port), "127.0.0.1");
    try {
      socket.write("GET /events HTTP/1.1\r\nhost: hub\r\naccept: text/event-stream\r\n\r\n");
      await new Promise<void>((resolve) => socket.once("data", () => resolve()));
      const text = await expectSameAnswers(arms, "/events", SSE, ANSWERED);
      expect(text).toMatch(/^HTTP\/1\.1 503 /);
      expect(text).toMatch(/\r\nretry-after: 5\r\n/i);
    } finally {
      socket.destroy();
    }
  });
});

describe("what the lean stream path takes, and what it leaves to fastify", () => {
  const opened: unknown[] = [];
  const streams = { hasRoom: () => true, open: async (_res: unknown, selection: unknown) => void opened.push(selection) } as unknown as StreamHub;
  const options = (over: Partial<StreamFastPathOptions> = {}): StreamFastPathOptions => ({
    basePath: "/api",
    streams,
    log: pino({ level: "silent" }),
    streamLog: pino({ level: "silent" }),
    open: () => true,
    authEnabled: () => false,
    cors: false,
    genReqId: () => "req-1",
    ...over,
  });
  const request = (url: string, headers: Record<string, string> = {}, method = "GET") => ({ method, url, headers }) as unknown as IncomingMessage;
  const response = () => ({ once: () => undefined, on: () => undefined }) as unknown as ServerResponse;

  const cases: [string, Partial<StreamFastPathOptions>, IncomingMessage, boolean][] = [
    ["GET /events", {}, request("/events"), true],
    ["with a Last-Event-ID", {}, request("/events", { "last-event-id": "evt_01" }), true],
    ["HEAD /events", {}, request("/events", {}, "HEAD"), false],
    ["a query string", {}, request("/events?topic=a"), false],
    ["a trailing slash", {}, request("/events/"), false],
    ["a topic's stream", {}, request("/api/topics/a/stream"), false],
    ["a Last-Event-ID the route refuses", {}, request("/events", { "last-event-id": "a\nb" }), false],
    ["a body", {}, request("/events", { "content-length": "2" }), false],
    ["auth on", { authEnabled: () => true }, request("/events"), false],
    ["auth not known", { authEnabled: () => undefined }, request("/events"), false],
    ["while not open", { open: () => false }, request("/events"), false],
    ["no room", { streams: { hasRoom: () => false } as unknown as StreamHub }, request("/events"), false],
    ["an Origin with CORS on", { cors: true }, request("/events", { origin: "https://a.example" }), false],
    ["an Origin with CORS off", {}, request("/events", { origin: "https://a.example" }), true],
    ["empty BASE_PATH, asking for a stream", { basePath: "" }, request("/events", { accept: "text/event-stream" }), true],
    ["empty BASE_PATH, a search", { basePath: "" }, request("/events", { accept: "application/json" }), false],
  ];
  for (const [name, over, req, taken] of cases) {
    it(`${taken ? "takes" : "leaves"} ${name}`, () => {
      expect(createStreamFastPath(options(over))(req, response())).toBe(taken);
    });
  }

  it("opens the stream of every topic, its data alone, from the Last-Event-ID", () => {
    opened.length = 0;
    createStreamFastPath(options())(request("/events", { "last-event-id": "evt_01" }), response());
    createStreamFastPath(options())(request("/events", { "last-event-id": "" }), response());
    expect(opened).toEqual([
      { topics: [], envelope: false, lastEventId: "evt_01" },
      { topics: [], envelope: false, lastEventId: undefined },
    ]);
  });
});
