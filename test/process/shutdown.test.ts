import { connect, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { request } from "../helpers/hub.js";
import { makeTempDir, removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";
import { openLiveSse } from "../helpers/sse.js";

const running: SpawnedHub[] = [];
const sockets: Socket[] = [];
let dir: string | undefined;

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const hub of running) await hub.stop();
  if (dir) await removeDir(dir);
});

/** A POST whose body is only half sent: the request is in flight until {@link finish} sends the rest. */
interface HalfSentPost {
  socket: Socket;
  /** Resolves once the headers and the first half of the body have been handed to the kernel. */
  sent: Promise<void>;
  finish(): void;
  /** The raw reply once the socket closed or the reply is complete. */
  reply: Promise<{ status: number; body: any }>;
}

function halfSentPost(port: number, path: string, body: string): HalfSentPost {
  const socket = connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  socket.setEncoding("utf8");
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\n\r\n`);
  const sent = new Promise<void>((resolve) => socket.write(bytes.subarray(0, half), () => resolve()));
  const reply = new Promise<{ status: number; body: any }>((resolve, reject) => {
    let raw = "";
    const tryParse = () => {
      const end = raw.indexOf("\r\n\r\n");
      if (end === -1) return false;
      const head = raw.slice(0, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN);
      const content = raw.slice(end + 4);
      if (Buffer.byteLength(content) < length) return false;
      resolve({ status: Number(head.split(" ")[1]), body: JSON.parse(content) });
      return true;
    };
    socket.on("data", (s: string) => {
      raw += s;
      tryParse();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (!tryParse()) reject(new Error(`connection closed without a whole reply: ${JSON.stringify(raw)}`));
    });
  });
  reply.catch(() => {});
  return { socket, sent, reply, finish: () => socket.write(bytes.subarray(half)) };
}

describe("SIGTERM", () => {
  it("closes streams with a retry hint, finishes and commits requests in flight, and exits 0", async () => {
    dir = await makeTempDir();
    const hub = await spawnHub({ dir });
    running.push(hub);

    const stream = await openLiveSse(hub.url, "/events?topic=term.t");
    const first = await request(`${hub.url}/api/events?topic=term.t`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"before":"sigterm"}',
    });
    expect(first.status).toBe(201);
    await stream.waitForEvents(1);

    // Requests in flight: the hub has their headers and half their bodies.
    const inFlight = Array.from({ length: 5 }, (_, i) =>
      halfSentPost(hub.port, "/api/events", JSON.stringify({ topic: "term.t", id: `in-flight-${i}`, data: { i, note: "sent around SIGTERM" } })),
    );
    // Busy clients too: each 201 they get must be stored.
    const acked: string[] = [];
    let stop = false;
    const loops = Array.from({ length: 10 }, async (_, l) => {
      for (let i = 0; !stop; i++) {
        try {
          const reply = await request(`${hub.url}/api/events?topic=term.busy`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ l, i }),
          });
          if (reply.status === 201) acked.push(reply.body.id);
          else if (reply.status === 503)
            return; // shutting down: refused, not stored
          else throw new Error(`unexpected ${reply.status}: ${reply.text}`);
        } catch (error) {
          if ((error as Error).message.startsWith("unexpected")) throw error;
          return; // connection refused or closed: the hub stopped listening
        }
      }
    });
    // A request answered after the half-sent ones arrived means the hub has routed them (one event loop, in order).
    await Promise.all(inFlight.map((p) => p.sent));
    expect((await request(`${hub.url}/health`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100)); // let the busy loops get going

    hub.kill("SIGTERM");

    // The stream gets a last retry hint, then its end.
    await stream.waitForText(": server shutting down\n\n");
    await stream.waitForClose();
    expect(stream.text).toMatch(/\nretry: 2000\n: server shutting down\n\n$/);
    expect(stream.bodyEnded).toBe(true); // a clean end of the chunked body, not a cut connection

    // The requests in flight complete with 201 once their bodies arrive.
    for (const post of inFlight) post.finish();
    const replies = await Promise.all(inFlight.map((p) => p.reply));
    replies.forEach((r, i) => {
      expect(r.status).toBe(201);
      expect(r.body).toEqual({ id: `in-flight-${i}`, seq: expect.any(Number), topic: "term.t" });
    });

    stop = true;
    await Promise.all(loops);
    const exit = await hub.exited;
    expect(exit).toEqual({ code: 0, signal: null });

    // After a restart, everything acknowledged is there.
    const again = await spawnHub({ dir });
    running.push(again);
    for (const id of [first.body.id, ...inFlight.map((_, i) => `in-flight-${i}`), ...acked]) {
      const reply = await request(`${again.url}/api/events/${id}`);
      expect(reply.status, id).toBe(200);
    }
  }, 60_000);

  it("SIGINT also exits 0", async () => {
    const hub = await spawnHub();
    running.push(hub);
    try {
      expect((await request(`${hub.url}/health`)).status).toBe(200);
      hub.kill("SIGINT");
      expect(await hub.exited).toEqual({ code: 0, signal: null });
    } finally {
      await removeDir(hub.dir);
    }
  }, 30_000);
});
