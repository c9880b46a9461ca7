import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { rawExchange } from "../helpers/raw-http.js";

const TIMEOUT_MS = 1_000;
// Node checks for late requests every tenth of the timeout; the rest is room for a loaded CI machine.
const MARGIN_MS = 2_500;

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ requestTimeoutMs: TIMEOUT_MS });
});
afterAll(() => hub.close());

/** What a slow client saw: everything received, and when the hub closed the connection (ms after connecting). */
interface SlowExchange {
  text: string;
  status: number;
  body: any;
  closedAfterMs: number | undefined;
}

/**
 * Connects, writes `first`, then `drip` every `dripMs` (a slowloris), and reads until the hub closes the
 * connection or `giveUpMs` passes (then `closedAfterMs` is undefined).
 */
function slowClient(first: string, options: { drip?: string; dripMs?: number; giveUpMs?: number } = {}): Promise<SlowExchange> {
  const { port } = new URL(hub.url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ host: "127.0.0.1", port: Number(port) });
    let text = "";
    let dripTimer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearInterval(dripTimer);
      clearTimeout(giveUp);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
      const bodyText = text.slice(text.indexOf("\r\n\r\n") + 4);
      let body: any;
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = undefined;
      }
      resolve({ text, status, body, closedAfterMs: closed ? Date.now() - started : undefined });
    };
    const giveUp = setTimeout(() => finish(false), options.giveUpMs ?? TIMEOUT_MS + MARGIN_MS);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("close", () => finish(true));
    socket.on("error", () => undefined);
    socket.on("connect", () => {
      if (first !== "") socket.write(first);
      if (options.drip !== undefined) dripTimer = setInterval(() => socket.writable && socket.write(options.drip!), options.dripMs ?? 200);
    });
  });
}

function expectTimedOut(reply: SlowExchange) {
  expect(reply.status, reply.text).toBe(408);
  expect(reply.body).toEqual({ error: "request timeout", details: `the request was not received in full within ${TIMEOUT_MS} ms`, code: "SB_REQUEST_TIMEOUT" });
  expect(reply.text.toLowerCase()).toContain("\r\nconnection: close\r\n");
  expect(reply.closedAfterMs, "the hub closes the connection").toBeDefined();
  expect(reply.closedAfterMs!).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  expect(reply.closedAfterMs!).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
}

describe("requestTimeoutMs: a request not received in full in time gets 408 with the catalog body, and its connection is closed", () => {
  it("headers sent, half the body: 408 and closed within the timeout", async () => {
    const reply = await slowClient(
      'POST /api/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{"topic":"limits.slow",',
    );
    expectTimedOut(reply);
  });

  it("half the headers: 408 with the catalog body (not fastify's), closed within the timeout", async () => {
    expectTimedOut(await slowClient("POST /api/events HTTP/1.1\r\nhost: x\r\ncontent-ty"));
  });

  it("a slowloris (a header line every 200 ms, never the end): closed at the timeout", async () => {
    expectTimedOut(await slowClient("GET /api/health HTTP/1.1\r\nhost: x\r\n", { drip: "x-a: b\r\n", dripMs: 200 }));
  });

  it("a body trickled a byte at a time: closed at the timeout", async () => {
    expectTimedOut(
      await slowClient("POST /api/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[", {
        drip: "1,",
        dripMs: 100,
      }),
    );
  });

  it("a connection that sends nothing: closed at the timeout", async () => {
    expectTimedOut(await slowClient(""));
  });

  it("a request received in full within the timeout, if slowly, is served", async () => {
    const { port } = new URL(hub.url);
    const body = JSON.stringify({ topic: "limits.slow", data: { ok: true } });
    const head = `POST /api/events HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    const text = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: Number(port) });
      let received = "";
      socket.setEncoding("latin1");
      socket.on("data", (c: string) => (received += c));
      socket.on("close", () => resolve(received));
      socket.on("connect", () => {
        socket.write(head + body.slice(0, 10));
        setTimeout(() => socket.write(body.slice(10)), TIMEOUT_MS / 2);
      });
    });
    expect(text).toMatch(/^HTTP\/1\.1 201 /);
  });
});

describe("other errors raised before routing get the catalog body too", () => {
  it("headers over 16 KiB → 431 SB_REQUEST_HEADERS_TOO_LARGE, connection closed", async () => {
    const reply = await rawExchange(hub.url, `GET /api/health HTTP/1.1\r\nhost: x\r\nx-big: ${"h".repeat(20_000)}\r\n\r\n`);
    expect(reply.status, reply.text).toBe(431);
    const body = JSON.parse(reply.text.slice(reply.text.indexOf("\r\n\r\n") + 4));
    expect(body).toMatchObject({ error: "request headers too large", code: "SB_REQUEST_HEADERS_TOO_LARGE" });
    expect(reply.timedOut).toBe(false);
  });

  it("bytes that are not HTTP → 400 SB_REQUEST_INVALID, connection closed", async () => {
    const reply = await rawExchange(hub.url, "HELLO THERE\r\n\r\n");
    expect(reply.status, reply.text).toBe(400);
    const body = JSON.parse(reply.text.slice(reply.text.indexOf("\r\n\r\n") + 4));
    expect(body).toMatchObject({ error: "invalid request", code: "SB_REQUEST_INVALID" });
    expect(body.details).toMatch(/malformed HTTP request/);
    expect(reply.timedOut).toBe(false);
  });
});
