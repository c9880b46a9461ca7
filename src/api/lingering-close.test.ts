import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { lingerOnClose, type LingerOptions } from "./lingering-close.js";

// A bare node:http server that refuses every request at once with `connection: close`, as fastify does a body over
// its limit, without reading the body: the case where Node's parser stops reading the socket.

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function refusingServer(linger: LingerOptions | undefined): Promise<number> {
  server = createServer((req, res) => {
    if (linger) lingerOnClose(req.socket, linger);
    res.writeHead(413, { connection: "close", "content-length": "2" });
    res.end("no");
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Posts `total` bytes (a content-length of `declared`) as fast as the socket takes them; half-open, so it writes on after the FIN. */
function post(port: number, declared: number, total: number): Promise<{ text: string; written: number; error: string | undefined }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunk = Buffer.alloc(64 * 1024, "a");
    let text = "";
    let written = 0;
    let error: string | undefined;
    socket.setEncoding("latin1");
    socket.on("data", (c: string) => (text += c));
    socket.on("error", (err: NodeJS.ErrnoException) => (error ??= err.code));
    socket.on("close", () => resolve({ text, written, error }));
    socket.on("connect", () => {
      socket.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${declared}\r\n\r\n`);
      const pump = () => {
        while (!socket.destroyed && written < total) {
          written += chunk.length;
          if (!socket.write(chunk)) return void socket.once("drain", pump);
        }
        if (!socket.destroyed) socket.end();
      };
      pump();
    });
  });
}

describe("lingerOnClose", () => {
  it("without it, a client still sending a 20 MB body is reset (the case it exists for)", async () => {
    const port = await refusingServer(undefined);
    const outcome = await post(port, 20 * 1024 * 1024, 20 * 1024 * 1024);
    expect(outcome.error).toMatch(/^(EPIPE|ECONNRESET)$/);
  });

  it("reads and discards the rest of the body, then closes cleanly once the client is done", async () => {
    const port = await refusingServer({ maxBytes: 64 * 1024 * 1024, maxMs: 10_000 });
    const outcome = await post(port, 20 * 1024 * 1024, 20 * 1024 * 1024);
    expect(outcome.error).toBeUndefined();
    expect(outcome.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(outcome.written).toBeGreaterThanOrEqual(20 * 1024 * 1024);
  });

  it("cuts a client off past maxBytes", async () => {
    const port = await refusingServer({ maxBytes: 1024 * 1024, maxMs: 60_000 });
    const outcome = await post(port, 1024 * 1024 * 1024, 1024 * 1024 * 1024);
    expect(outcome.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(outcome.written).toBeLessThan(1024 * 1024 * 1024);
  });
});
