import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

// Requests refused for their size (413 body, 414 URL, 431 headers) while the client is still sending: the client
// must read the status, not EPIPE or ECONNRESET, and one that never stops sending is cut off at the linger's bounds.

const MB = 1024 * 1024;
const BIG_BODY = Buffer.alloc(5 * MB, "a");
/** The time bound of the hub that tests it; the main hub's is long, so that a loaded machine cannot reach it. */
const LINGER_MAX_MS = 1_500;
/** Room for a loaded machine in upper bounds of liveness. */
const MARGIN_MS = 3_000;

let hub: TestHub;

beforeAll(async () => {
  // The default limits (1 MiB bodies, a 16 MiB linger), spelled out; the time bound is far off (see the bounds' tests).
  hub = await startTestHub({ bodyLimitBytes: MB, lingerMaxBytes: 16 * MB, lingerMaxMs: 30_000 });
});
afterAll(() => hub.close());

/** What a raw client saw. */
interface RawOutcome {
  status: number;
  /** The first response's head and body, as latin1. */
  text: string;
  body: any;
  /** A socket error (EPIPE, ECONNRESET…), if any. */
  error: string | undefined;
  /** Bytes of the body handed to the kernel before the connection ended. */
  written: number;
  /** Ms from connecting to the connection's close. */
  closedAfterMs: number;
}

/**
 * Sends `head`, then the body chunks from `next()` (until it returns undefined) honouring backpressure, every
 * `intervalMs` when given; keeps sending after the hub's FIN (as a client busy writing its body does: half-open), and
 * ends once the body is out. Resolves when the connection closes.
 */
function rawClient(head: string, next: () => Buffer | undefined, options: { intervalMs?: number; giveUpMs?: number; url?: string } = {}): Promise<RawOutcome> {
  const { port } = new URL(options.url ?? hub.url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ host: "127.0.0.1", port: Number(port), allowHalfOpen: true });
    const received: Buffer[] = [];
    let error: string | undefined;
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      error = "the hub never closed the connection";
      socket.destroy();
    }, options.giveUpMs ?? 30_000);
    const pump = () => {
      while (!socket.destroyed && !socket.writableEnded) {
        const chunk = next();
        if (chunk === undefined) {
          socket.end();
          return;
        }
        const more = socket.write(chunk, (err) => {
          if (!err) written += chunk.length;
        });
        if (options.intervalMs !== undefined) {
          timer = setTimeout(pump, options.intervalMs);
          return;
        }
        if (!more) return void socket.once("drain", pump);
      }
    };
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on("close", () => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      const text = Buffer.concat(received).toString("latin1");
      const headEnd = text.indexOf("\r\n\r\n");
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? 0);
      let body: any;
      try {
        body = JSON.parse(text.slice(headEnd + 4, headEnd + 4 + length));
      } catch {
        body = undefined;
      }
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
      resolve({ status, text, body, error, written, closedAfterMs: Date.now() - started });
    });
    socket.on("connect", () => {
      socket.write(head);
      pump();
    });
  });
}

/** Yields `body` in 64 KiB slices, then `tail` (a chunked terminator), then ends. */
function slices(body: Buffer, tail?: Buffer): () => Buffer | undefined {
  let at = 0;
  let tailSent = tail === undefined;
  return () => {
    if (at < body.length) {
      const chunk = body.subarray(at, at + 64 * 1024);
      at += chunk.length;
      return chunk;
    }
    if (!tailSent) {
      tailSent = true;
      return tail;
    }
    return undefined;
  };
}

const POST_HEAD = "POST /api/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n";
const contentLengthHead = (length: number, path = "/api/events", extra = "") =>
  `${POST_HEAD.replace("/api/events", path)}${extra}content-length: ${length}\r\n\r\n`;
/** The whole body as one chunk. */
const chunkedHead = `${POST_HEAD}transfer-encoding: chunked\r\n\r\n${BIG_BODY.length.toString(16)}\r\n`;
const CHUNKED_TAIL = Buffer.from("\r\n0\r\n\r\n");

function expectRefused(outcome: RawOutcome, status: number, code: string) {
  expect(outcome.error, outcome.text.slice(0, 300)).toBeUndefined();
  expect(outcome.status, outcome.text.slice(0, 300)).toBe(status);
  expect(outcome.body).toEqual({ error: expect.any(String), details: expect.any(String), code });
  expect(outcome.text.slice(0, outcome.text.indexOf("\r\n\r\n")).toLowerCase()).toContain("\r\nconnection: close");
}

/** The hostile requests, each a raw client or fetch, with the status and code it must read. */
const HOSTILE: Array<{ name: string; status: number; code: string; send: () => Promise<RawOutcome> }> = [
  {
    name: "a 5 MB body (content-length)",
    status: 413,
    code: "SB_REQUEST_TOO_LARGE",
    send: () => rawClient(contentLengthHead(BIG_BODY.length), slices(BIG_BODY)),
  },
  { name: "a 5 MB body (chunked)", status: 413, code: "SB_REQUEST_TOO_LARGE", send: () => rawClient(chunkedHead, slices(BIG_BODY, CHUNKED_TAIL)) },
  {
    name: "a 10 KB URL with a 5 MB body",
    status: 414,
    code: "SB_REQUEST_URL_TOO_LONG",
    send: () => rawClient(contentLengthHead(BIG_BODY.length, `/api/events?x=${"u".repeat(10_000)}`), slices(BIG_BODY)),
  },
  {
    name: "a 100 KB URL (past Node's header limit) with a 5 MB body",
    status: 414,
    code: "SB_REQUEST_URL_TOO_LONG",
    send: () => rawClient(contentLengthHead(BIG_BODY.length, `/api/events?x=${"u".repeat(100_000)}`), slices(BIG_BODY)),
  },
  {
    name: "100 KB of headers with a 5 MB body",
    status: 431,
    code: "SB_REQUEST_HEADERS_TOO_LARGE",
    send: () => rawClient(contentLengthHead(BIG_BODY.length, "/api/events", `x-big: ${"h".repeat(100_000)}\r\n`), slices(BIG_BODY)),
  },
];

describe("a refused request's status reaches a raw client still sending, and its whole body is read", () => {
  it.each(HOSTILE)("$name → $status $code, no EPIPE/ECONNRESET, the body read to its end", async ({ send, status, code }) => {
    const outcome = await send();
    expectRefused(outcome, status, code);
    // The hub read (and discarded) everything the client sent: it could write all of it.
    expect(outcome.written).toBeGreaterThanOrEqual(BIG_BODY.length);
  });

  it("the bodies say what was refused", async () => {
    const tooLarge = await HOSTILE[0]!.send();
    expect(tooLarge.body).toEqual({ error: "request too large", details: expect.stringMatching(/body/i), code: "SB_REQUEST_TOO_LARGE" });
    const url = await HOSTILE[2]!.send();
    expect(url.body).toEqual({ error: "URL too long", details: "the URL has 10014 characters; at most 8192 are allowed", code: "SB_REQUEST_URL_TOO_LONG" });
    const hugeUrl = await HOSTILE[3]!.send();
    expect(hugeUrl.body.details).toBe("the URL is over 16384 bytes; at most 8192 are allowed");
    const headers = await HOSTILE[4]!.send();
    expect(headers.body).toEqual({
      error: "request headers too large",
      details: "the request line and headers are over 16384 bytes",
      code: "SB_REQUEST_HEADERS_TOO_LARGE",
    });
  });
});

describe("fetch (undici) reads the status of every refused request", () => {
  const hostileFetches: Array<{ name: string; status: number; code: string; send: () => Promise<Response> }> = [
    {
      name: "a 5 MB body",
      status: 413,
      code: "SB_REQUEST_TOO_LARGE",
      send: () => fetch(`${hub.url}/api/events`, { method: "POST", headers: { "content-type": "application/json" }, body: BIG_BODY }),
    },
    {
      name: "a 5 MB body, streamed (chunked)",
      status: 413,
      code: "SB_REQUEST_TOO_LARGE",
      send: () => {
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < BIG_BODY.length; at += 256 * 1024) controller.enqueue(BIG_BODY.subarray(at, at + 256 * 1024));
            controller.close();
          },
        });
        return fetch(`${hub.url}/api/events`, { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
      },
    },
    { name: "a 10 KB URL", status: 414, code: "SB_REQUEST_URL_TOO_LONG", send: () => fetch(`${hub.url}/api/events?topic=${"u".repeat(10_000)}`) },
    { name: "a 100 KB URL", status: 414, code: "SB_REQUEST_URL_TOO_LONG", send: () => fetch(`${hub.url}/api/events?topic=${"u".repeat(100_000)}`) },
    {
      name: "a 300-character path parameter",
      status: 414,
      code: "SB_REQUEST_URL_TOO_LONG",
      send: () => fetch(`${hub.url}/api/topics/${"t".repeat(300)}`),
    },
    {
      name: "100 KB of headers",
      status: 431,
      code: "SB_REQUEST_HEADERS_TOO_LARGE",
      send: () => fetch(`${hub.url}/api/health`, { headers: { "x-big": "h".repeat(100_000) } }),
    },
    {
      name: "100 KB of headers and a 5 MB body",
      status: 431,
      code: "SB_REQUEST_HEADERS_TOO_LARGE",
      send: () =>
        fetch(`${hub.url}/api/events`, { method: "POST", headers: { "content-type": "application/json", "x-big": "h".repeat(100_000) }, body: BIG_BODY }),
    },
  ];

  it.each(hostileFetches)("$name → $status $code", async ({ send, status, code }) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: expect.any(String), details: expect.any(String), code });
  });

  it("100 hostile requests, 20 at a time, raw and fetch: every one reads its status, and normal requests are served meanwhile", async () => {
    const all = [
      ...HOSTILE.map((h) => async () => {
        const outcome = await h.send();
        return { status: outcome.status, code: outcome.body?.code as string | undefined, error: outcome.error, want: h };
      }),
      ...hostileFetches.map((h) => async () => {
        try {
          const res = await h.send();
          return { status: res.status, code: ((await res.json()) as { code: string }).code, error: undefined, want: h };
        } catch (err) {
          const cause = (err as Error & { cause?: NodeJS.ErrnoException }).cause;
          return { status: 0, code: undefined, error: cause?.code ?? (err as Error).message, want: h };
        }
      }),
    ];
    const jobs = Array.from({ length: 100 }, (_, i) => all[i % all.length]!);
    let stop = false;
    const normal = (async () => {
      let served = 0;
      for (let i = 0; !stop; i++) {
        const reply = await postJson(`${hub.url}/api/events`, { topic: "chaos.oversized.normal", data: { i } });
        expect(reply.status, reply.text).toBe(201);
        served++;
      }
      return served;
    })();
    const results: Array<Awaited<ReturnType<(typeof all)[number]>>> = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, worker) => {
        for (let i = worker; i < jobs.length; i += 20) results.push(await jobs[i]!());
      }),
    );
    stop = true;
    const served = await normal;
    const wrong = results.filter((r) => r.error !== undefined || r.status !== r.want.status || r.code !== r.want.code);
    expect(wrong.map((r) => `${r.want.name}: ${r.status} ${r.code} ${r.error}`)).toEqual([]);
    expect(results).toHaveLength(100);
    expect(served).toBeGreaterThan(0);
    // And the hub still serves a keep-alive client as before.
    expect((await request(`${hub.url}/api/health`)).status).toBe(200);
  });
});

describe("a client that never stops sending is cut off at the linger's bounds", () => {
  it("by time: a slow endless body after the 413 is read for lingerMaxMs, then the connection is closed", async () => {
    const timeBound = await startTestHub({ bodyLimitBytes: MB, lingerMaxBytes: 16 * MB, lingerMaxMs: LINGER_MAX_MS });
    try {
      const chunk = Buffer.alloc(1024, "a");
      const outcome = await rawClient(contentLengthHead(1_000 * MB), () => chunk, {
        url: timeBound.url,
        intervalMs: 20,
        giveUpMs: LINGER_MAX_MS + MARGIN_MS + 10_000,
      });
      expect(outcome.status).toBe(413);
      expect(outcome.body.code).toBe("SB_REQUEST_TOO_LARGE");
      // The hub went on reading for its linger (the client kept writing), then closed within the bound.
      expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(LINGER_MAX_MS - 50);
      expect(outcome.closedAfterMs).toBeLessThan(LINGER_MAX_MS + MARGIN_MS);
    } finally {
      await timeBound.close();
    }
  });

  it("by size: a fast endless body is cut once lingerMaxBytes are read, long before the time bound", async () => {
    const sizeBound = await startTestHub({ bodyLimitBytes: MB, lingerMaxBytes: 16 * MB, lingerMaxMs: 60_000 });
    try {
      const { port } = new URL(sizeBound.url);
      const chunk = Buffer.alloc(64 * 1024, "a");
      const started = Date.now();
      const outcome = await new Promise<{ text: string; written: number; error?: string }>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port: Number(port), allowHalfOpen: true });
        let text = "";
        let written = 0;
        let error: string | undefined;
        socket.setEncoding("latin1");
        socket.on("data", (c: string) => (text += c));
        socket.on("error", (err: NodeJS.ErrnoException) => (error ??= err.code));
        socket.on("close", () => resolve({ text, written, error }));
        socket.on("connect", () => {
          socket.write(contentLengthHead(10_000 * MB));
          const pump = () => {
            while (!socket.destroyed) {
              written += chunk.length;
              if (!socket.write(chunk)) return void socket.once("drain", pump);
            }
          };
          pump();
        });
      });
      expect(outcome.text).toMatch(/^HTTP\/1\.1 413 /);
      // Cut by the size bound: the time bound (60 s) is far off. Past the bound the hub resets the connection.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(outcome.written).toBeGreaterThan(16 * MB);
      expect(outcome.written).toBeLessThan(200 * MB);
    } finally {
      await sizeBound.close();
    }
  });
});
