import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { postJson, startTestHub, type TestHub } from "../helpers/hub.js";

// Once a stream's headers are out, the hub takes its connection from Node's HTTP server and writes the chunked body
// itself (src/delivery/sse/stream-socket.ts). These read the bytes on the wire.

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub.close());

interface RawStream {
  socket: Socket;
  closed: Promise<void>;
  text(): string;
  /** Resolves once the bytes read include `needle`. */
  until(needle: string | RegExp): Promise<void>;
}

function rawStream(url: string, path: string): RawStream {
  const socket = connect(Number(new URL(url).port), "127.0.0.1");
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (s: string) => (text += s));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: hub\r\nAccept: text/event-stream\r\n\r\n`);
  const has = (needle: string | RegExp) => (typeof needle === "string" ? text.includes(needle) : needle.test(text));
  return {
    socket,
    closed,
    text: () => text,
    async until(needle) {
      const deadline = Date.now() + 5_000;
      while (!has(needle)) {
        if (Date.now() > deadline) throw new Error(`not read within 5 s: ${String(needle)}; read ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** After the stream's opening, and the turn of the event loop on which the hub takes its connection. */
async function opened(stream: RawStream): Promise<void> {
  await stream.until(": connected\n\n\r\n");
  await new Promise((r) => setTimeout(r, 50));
}

it("writes each frame as one HTTP chunk, and drops what the client sends after its request", async () => {
  const stream = rawStream(hub.url, "/api/topics/raw.one/stream");
  try {
    await opened(stream);
    // A pipelined request is never answered on a stream's connection, and garbage does not end it.
    stream.socket.write("GET /health HTTP/1.1\r\nHost: hub\r\n\r\nnot http at all\r\n\r\n");
    expect((await postJson(`${hub.url}/api/events`, { topic: "raw.one", data: { n: 1 } })).status).toBe(201);
    const frame = /\r\n([0-9a-f]+)\r\n(id: evt_\w+\ndata: \{"n":1\}\n\n)\r\n/;
    await stream.until(frame);
    const [, size, body] = frame.exec(stream.text())!;
    expect(parseInt(size!, 16)).toBe(Buffer.byteLength(body!));
    expect(stream.text().split("HTTP/1.1 ")).toHaveLength(2);
    expect(stream.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*transfer-encoding: chunked\r\n/i);
  } finally {
    stream.socket.destroy();
  }
});

/** Waits until the hub holds `n` streams (or 5 s have passed) and returns how many it holds. */
async function streamsOpen(n: number): Promise<number> {
  const { streams } = hub.server.hub;
  const deadline = Date.now() + 5_000;
  while (streams.size !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return streams.size;
}

it("ends a stream when its client ends its side of the connection", async () => {
  expect(await streamsOpen(0)).toBe(0);
  const stream = rawStream(hub.url, "/api/topics/raw.two/stream");
  await opened(stream);
  expect(await streamsOpen(1)).toBe(1);
  stream.socket.end();
  await stream.closed;
  expect(await streamsOpen(0)).toBe(0);
});

it("ends the chunked body and closes the connection on shutdown", async () => {
  const own = await startTestHub();
  const stream = rawStream(own.url, "/api/topics/raw.three/stream");
  try {
    await opened(stream);
    await own.close();
    await stream.closed;
    expect(stream.text().endsWith(`\r\nretry: 2000\n: server shutting down\n\n\r\n0\r\n\r\n`)).toBe(true);
  } finally {
    stream.socket.destroy();
    await own.close();
  }
});
