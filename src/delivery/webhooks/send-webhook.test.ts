import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startReceiver, type ReceivedRequest, type Receiver, type Reply } from "../../../test/helpers/receiver.js";
import { createWebhookClient, RESPONSE_EXCERPT_BYTES, type WebhookClient } from "./send-webhook.js";

/** Bytes the /huge route managed to write before the client went away. */
let hugeBytesWritten = 0;
let hugeClosed: Promise<void> = Promise.resolve();

/** The path picks the answer. */
function replyTo(req: ReceivedRequest): Reply {
  switch (req.path) {
    case "/ok":
      return { status: 200, body: "received" };
    case "/no-content":
      return { status: 204 };
    case "/fail":
      return { status: 500, headers: { "content-type": "text/plain" }, body: "boom: database down" };
    case "/gone":
      return { status: 410, body: "unsubscribed" };
    case "/limited":
      return { status: 429, headers: { "retry-after": "7" }, body: "slow down" };
    case "/unavailable":
      return { status: 503, headers: { "retry-after": new Date(Date.now() + 60_000).toUTCString() } };
    case "/fail-with-retry-after":
      return { status: 500, headers: { "retry-after": "7" } };
    case "/redirect":
      return { status: 302, headers: { location: "/ok" } };
    case "/invalid-utf8":
      return { status: 200, body: Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0x21]) };
    case "/split-char":
      // 4095 ASCII bytes, then "é" (2 bytes) across the 4096-byte cut, then more.
      return { status: 200, body: Buffer.concat([Buffer.alloc(4095, "a"), Buffer.from("é+more", "utf8")]) };
    case "/exactly-4096":
      return { status: 200, body: Buffer.alloc(4096, "x") };
    case "/huge":
      return { write: (res) => (hugeClosed = writeForever(res)) };
    case "/stall-body":
      return {
        write: (res) => {
          res.writeHead(200, { "content-length": "100" });
          res.write("partial"); // never finishes
        },
      };
    case "/trickle":
      // A byte every 50 ms: never idle long enough for a body timeout, never done.
      return {
        write: (res) => {
          res.writeHead(200);
          const timer = setInterval(() => res.write("."), 50);
          res.on("close", () => clearInterval(timer));
        },
      };
    case "/reset-body":
      return {
        write: (res) => {
          res.writeHead(500, { "content-length": "100" });
          res.write("partial", () => setTimeout(() => res.socket?.destroy(), 20));
        },
      };
    case "/hang":
      return "timeout";
    default:
      return { status: 404 };
  }
}

/** Writes 64 KiB chunks, honouring backpressure, until the client goes away (or 256 MiB, to be safe). */
function writeForever(res: ServerResponse): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, "z");
  res.writeHead(200, { "content-type": "text/plain" });
  return new Promise((resolve) => {
    res.on("close", () => resolve());
    const pump = () => {
      while (!res.destroyed && hugeBytesWritten < 256 * 1024 * 1024) {
        hugeBytesWritten += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
}

let receiver: Receiver;
const urlOf = (path: string, host = "127.0.0.1") => `http://${host}:${receiver.port}${path}`;
let client: WebhookClient;

beforeAll(async () => {
  receiver = await startReceiver(replyTo);
});
afterAll(() => receiver.close());
beforeEach(() => {
  client = createWebhookClient({ allowPrivate: true });
});
afterEach(() => client.close());

const request = (path: string, extra: { timeoutMs?: number; headers?: Record<string, string>; body?: string } = {}) => ({
  url: urlOf(path),
  body: extra.body ?? '{"hello":"world"}',
  headers: extra.headers ?? { "content-type": "application/json" },
  timeoutMs: extra.timeoutMs ?? 5000,
});

describe("send", () => {
  it("POSTs the body and headers and reports a 2xx as ok", async () => {
    const before = receiver.requests.length;
    const result = await client.send(
      request("/ok", { headers: { "content-type": "application/json", "webhook-id": "dlv_1", "x-custom": "yes" }, body: '{"n":"é"}' }),
    );
    expect(result).toEqual({ ok: true, status: 200, latencyMs: expect.any(Number), responseExcerpt: "received", error: null, gone: false });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const got = receiver.requests.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]!.method).toBe("POST");
    expect(got[0]!.path).toBe("/ok");
    expect(got[0]!.body).toBe('{"n":"é"}');
    expect(got[0]!.headers["webhook-id"]).toBe("dlv_1");
    expect(got[0]!.headers["x-custom"]).toBe("yes");
    expect(got[0]!.headers["content-type"]).toBe("application/json");
    expect(got[0]!.headers["user-agent"]).toBe("switchboard");
  });

  it("keeps a user-agent given in the headers, and the client's default otherwise", async () => {
    const custom = createWebhookClient({ allowPrivate: true, userAgent: "switchboard/9.9.9" });
    try {
      await custom.send(request("/ok"));
      expect(receiver.requests.at(-1)!.headers["user-agent"]).toBe("switchboard/9.9.9");
      await custom.send(request("/ok", { headers: { "User-Agent": "mine/1" } }));
      expect(receiver.requests.at(-1)!.headers["user-agent"]).toBe("mine/1");
    } finally {
      await custom.close();
    }
  });

  it("reports an empty body as an empty excerpt", async () => {
    const result = await client.send(request("/no-content"));
    expect(result).toMatchObject({ ok: true, status: 204, responseExcerpt: "", error: null });
  });

  it("reports a 500 as not ok, with the body excerpt", async () => {
    const result = await client.send(request("/fail"));
    expect(result).toMatchObject({ ok: false, status: 500, responseExcerpt: "boom: database down", error: null, gone: false });
    expect(result.retryAfterMs).toBeUndefined();
  });

  it("reads only 4 KiB of a huge response and drops the connection instead of reading on", async () => {
    const started = Date.now();
    const result = await client.send(request("/huge"));
    expect(result.ok).toBe(true);
    expect(result.responseExcerpt).toBe("z".repeat(RESPONSE_EXCERPT_BYTES));
    expect(Buffer.byteLength(result.responseExcerpt!)).toBe(4096);
    await hugeClosed; // the server saw the client go away
    expect(hugeBytesWritten).toBeLessThan(64 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("keeps a body of exactly 4096 bytes whole", async () => {
    const result = await client.send(request("/exactly-4096"));
    expect(result.responseExcerpt).toBe("x".repeat(4096));
  });

  it("decodes the excerpt as UTF-8, replacing invalid bytes and dropping a character cut at 4 KiB", async () => {
    expect((await client.send(request("/invalid-utf8"))).responseExcerpt).toBe("ok\uFFFD\uFFFD!");
    expect((await client.send(request("/split-char"))).responseExcerpt).toBe("a".repeat(4095));
  });

  it("gives up after timeoutMs when the receiver never answers", async () => {
    const started = Date.now();
    const result = await client.send(request("/hang", { timeoutMs: 300 }));
    const took = Date.now() - started;
    expect(result).toMatchObject({ ok: false, status: null, responseExcerpt: null, error: "timeout after 300 ms", gone: false });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2000);
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
  });

  it("counts a 2xx whose body stalls as ok, with what arrived and why it is short, within the timeout", async () => {
    const started = Date.now();
    const result = await client.send(request("/stall-body", { timeoutMs: 300 }));
    expect(result).toMatchObject({ ok: true, status: 200, responseExcerpt: "partial", error: "response body not received in full within 300 ms" });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("bounds the whole attempt by timeoutMs even when the body keeps trickling", async () => {
    const started = Date.now();
    const result = await client.send(request("/trickle", { timeoutMs: 400 }));
    const took = Date.now() - started;
    expect(result).toMatchObject({ ok: true, status: 200, error: "response body not received in full within 400 ms" });
    expect(result.responseExcerpt).toMatch(/^\.+$/);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(2000);
  });

  it("says when the body was cut off by the receiver, keeping the status and what arrived", async () => {
    const result = await client.send(request("/reset-body"));
    expect(result).toMatchObject({ ok: false, status: 500, responseExcerpt: "partial" });
    expect(result.error).toMatch(/^response body cut off: /);
  });

  it("reports 410 as gone", async () => {
    const result = await client.send(request("/gone"));
    expect(result).toMatchObject({ ok: false, status: 410, gone: true, responseExcerpt: "unsubscribed" });
  });

  it("reads Retry-After on 429 (seconds) and 503 (HTTP date), not on other statuses", async () => {
    expect(await client.send(request("/limited"))).toMatchObject({ ok: false, status: 429, retryAfterMs: 7000 });
    const unavailable = await client.send(request("/unavailable"));
    expect(unavailable.status).toBe(503);
    expect(unavailable.retryAfterMs).toBeGreaterThan(55_000);
    expect(unavailable.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect((await client.send(request("/fail-with-retry-after"))).retryAfterMs).toBeUndefined();
  });

  it("does not follow redirects: a 302 is a failed attempt", async () => {
    const before = receiver.requests.length;
    const result = await client.send(request("/redirect"));
    expect(result).toMatchObject({ ok: false, status: 302, error: null });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(receiver.requests.slice(before).map((r) => r.path)).toEqual(["/redirect"]);
  });

  it("reports a refused connection", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await client.send({ ...request("/ok"), url: `http://127.0.0.1:${port}/ok` });
    expect(result).toMatchObject({ ok: false, status: null, responseExcerpt: null, gone: false });
    expect(result.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it.each([
    ["not a url", "invalid url"],
    ["ftp://127.0.0.1/", "unsupported protocol ftp:"],
  ])("reports the unusable url %j without throwing", async (url, error) => {
    expect(await client.send({ ...request("/ok"), url })).toMatchObject({ ok: false, status: null, error: expect.stringContaining(error) });
  });

  it("reuses keep-alive connections for sequential sends", async () => {
    const before = receiver.counts.connections;
    for (let i = 0; i < 5; i++) expect((await client.send(request("/ok"))).ok).toBe(true);
    const used = receiver.counts.connections - before;
    expect(used).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThan(5);
    const sockets = new Set(receiver.requests.slice(-5).map((r) => r.remotePort));
    expect(sockets.size).toBe(used);
  });

  it("answers with an error, not an exception, after close", async () => {
    const closing = createWebhookClient({ allowPrivate: true });
    await closing.close();
    const result = await closing.send(request("/ok"));
    expect(result.ok).toBe(false);
    expect(result.error).toEqual(expect.any(String));
  });
});

describe("send with private targets refused", () => {
  let guarded: WebhookClient;
  beforeEach(() => {
    guarded = createWebhookClient({ allowPrivate: false });
  });
  afterEach(() => guarded.close());

  it("refuses a private IP literal without connecting", async () => {
    const before = { requests: receiver.requests.length, connections: receiver.counts.connections };
    const result = await guarded.send(request("/ok"));
    expect(result).toMatchObject({ ok: false, status: null, responseExcerpt: null, error: "private address 127.0.0.1 refused" });
    expect(receiver.requests.length).toBe(before.requests);
    expect(receiver.counts.connections).toBe(before.connections);
  });

  it("refuses [::ffff:127.0.0.1] as 127.0.0.1", async () => {
    const result = await guarded.send({ ...request("/ok"), url: `http://[::ffff:127.0.0.1]:${receiver.port}/ok` });
    expect(result.error).toBe("private address ::ffff:7f00:1 refused");
  });

  it("refuses a name resolving to a private address at connect time", async () => {
    const before = { requests: receiver.requests.length, connections: receiver.counts.connections };
    const result = await guarded.send({ ...request("/ok"), url: urlOf("/ok", "localhost") });
    expect(result.ok).toBe(false);
    expect(result.status).toBeNull();
    expect(result.error).toMatch(/^private address (127\.0\.0\.1|::1) refused \(localhost\)$/);
    expect(receiver.requests.length).toBe(before.requests);
    expect(receiver.counts.connections).toBe(before.connections);
  });

  it("refuses a multicast literal without connecting even when private targets are allowed", async () => {
    const result = await client.send({ ...request("/ok"), url: "http://239.1.2.3:9/ok" });
    expect(result).toMatchObject({ ok: false, status: null, error: "private address 239.1.2.3 refused" });
  });

  it("still reaches the same receiver by name when private targets are allowed", async () => {
    const result = await client.send({ ...request("/ok"), url: urlOf("/ok", "localhost") });
    // localhost may resolve to ::1 first, where nothing listens; Happy Eyeballs then falls back to 127.0.0.1.
    expect(result).toMatchObject({ ok: true, status: 200 });
  });
});
