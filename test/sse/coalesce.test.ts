import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { CoalesceOptions } from "../../src/delivery/sse/frame-coalescer.js";
import { StreamHub } from "../../src/delivery/sse/stream-hub.js";
import { HubMetrics } from "../../src/metrics.js";
import { compileFilter } from "../../src/routing/filter.js";
import { compileTopicPattern } from "../../src/routing/topic-pattern.js";
import type { Store, StoredEvent } from "../../src/store/store.js";

// While the hub is busy, a stream's frames are held and written together (CoalesceOptions in frame-coalescer.ts). The
// first tests count every commit as busy (`busyEvents: 1`) to make holding certain; all read the chunked body off a
// raw socket, chunk by chunk.

interface Running {
  hub: StreamHub;
  server: Server;
  port: number;
  metrics: HubMetrics;
}

const running: Running[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of running.splice(0)) {
    r.hub.closeAll();
    r.metrics.close();
    await new Promise((resolve) => r.server.close(resolve));
  }
});

async function startHub(coalesce: CoalesceOptions, maxBufferedBytes = 1 << 20): Promise<Running> {
  const metrics = new HubMetrics();
  const hub = new StreamHub({ store: {} as Store, metrics, heartbeatMs: 60_000, retryMs: 2000, maxBufferedBytes, maxStreams: 100, coalesce });
  const server = createServer((req, res) => {
    const url = new URL(req.url!, "http://hub");
    const topics = url.searchParams.getAll("topic").map(compileTopicPattern);
    const filter = url.searchParams.get("filter");
    void hub.open(res, { topics, filter: filter === null ? undefined : compileFilter(filter), envelope: false });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const r = { hub, server, port: (server.address() as { port: number }).port, metrics };
  running.push(r);
  return r;
}

/** A stream read off a raw socket: the body's chunks as written, and whether the body ended. */
interface RawStream {
  socket: Socket;
  chunks: string[];
  ended: () => boolean;
  /** The `data:` of every frame so far, in order. */
  data(): string[];
  until(what: string, check: () => boolean, timeoutMs?: number): Promise<void>;
}

async function openStream(port: number, query = ""): Promise<RawStream> {
  const socket = connect(port, "127.0.0.1");
  sockets.push(socket);
  const chunks: string[] = [];
  let ended = false;
  let buf = "";
  let headDone = false;
  socket.setEncoding("latin1");
  socket.on("data", (s: string) => {
    buf += s;
    if (!headDone) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      buf = buf.slice(end + 4);
      headDone = true;
    }
    for (;;) {
      const line = buf.indexOf("\r\n");
      if (line < 0) return;
      const size = parseInt(buf.slice(0, line), 16);
      if (buf.length < line + 2 + size + 2) return;
      if (size === 0) ended = true;
      else chunks.push(buf.slice(line + 2, line + 2 + size));
      buf = buf.slice(line + 2 + size + 2);
    }
  });
  socket.write(`GET /events${query} HTTP/1.1\r\nHost: hub\r\nAccept: text/event-stream\r\n\r\n`);
  const stream: RawStream = {
    socket,
    chunks,
    ended: () => ended,
    data: () => [...chunks.join("").matchAll(/^data: (.*)$/gm)].map((m) => m[1]!),
    async until(what, check, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; chunks ${JSON.stringify(chunks)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
  await stream.until("the opening", () => chunks.join("").includes(": connected\n\n"));
  // The turn on which the hub takes the connection from the HTTP server (stream-socket.ts).
  await new Promise((r) => setTimeout(r, 20));
  return stream;
}

let seq = 0;
function event(topic: string, data: unknown): StoredEvent {
  seq++;
  const dataJson = JSON.stringify(data);
  return {
    id: `evt_${String(seq).padStart(26, "0")}`,
    clientId: false,
    topic,
    type: null,
    source: null,
    subject: null,
    time: 0,
    key: null,
    dataJson,
    data,
    attributes: {},
    receivedAt: 0,
    seq,
  };
}

/** The chunks that carry frames (not the opening). */
const frameChunks = (s: RawStream) => s.chunks.filter((c) => c.includes("data: "));

describe("frames held while the hub is busy", () => {
  it("arrive complete and in order, several commits in one chunk", async () => {
    const { hub, port } = await startHub({ holdMs: 100, busyEvents: 1 });
    const stream = await openStream(port);
    hub.publish([event("t", { n: 1 })]); // the first since the last flush long ago: at once
    await stream.until("the first frame", () => stream.data().length === 1);
    expect(frameChunks(stream)).toHaveLength(1);

    hub.publish([event("t", { n: 2 }), event("t", { n: 3 })]);
    hub.publish([event("t", { n: 4 })]);
    hub.publishLive([{ ...event("t", { live: 5 }), seq: undefined } as never]);
    hub.publish([event("t", { n: 6 })]);
    await stream.until("the held frames", () => stream.data().length === 6);
    expect(stream.data()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"live":5}', '{"n":6}']);
    // One write: one chunk, with every frame whole (and the live one without an id).
    expect(frameChunks(stream)).toHaveLength(2);
    expect(frameChunks(stream)[1]).toMatch(
      /^id: evt_\d+\ndata: \{"n":2\}\n\nid: evt_\d+\ndata: \{"n":3\}\n\nid: evt_\d+\ndata: \{"n":4\}\n\ndata: \{"live":5\}\n\nid: evt_\d+\ndata: \{"n":6\}\n\n$/,
    );
  });

  it("keeps each stream's own topics and filter, whichever frames other streams hold", async () => {
    const { hub, port } = await startHub({ holdMs: 100, busyEvents: 1 });
    const all = await openStream(port);
    const a = await openStream(port, "?topic=a");
    const a2 = await openStream(port, "?topic=a");
    const big = await openStream(port, `?filter=${encodeURIComponent("data.n > 2")}`);
    hub.publish([event("x", { n: 0 })]); // flushed at once: the next ones are held
    for (let n = 1; n <= 5; n++) hub.publish([event(n % 2 ? "a" : "b", { n })]);
    await all.until("every frame", () => all.data().length === 6);
    await a.until("topic a", () => a.data().length === 3);
    await a2.until("topic a again", () => a2.data().length === 3);
    await big.until("n > 2", () => big.data().length === 3);
    expect(all.data()).toEqual([0, 1, 2, 3, 4, 5].map((n) => `{"n":${n}}`));
    expect(a.data()).toEqual(['{"n":1}', '{"n":3}', '{"n":5}']);
    expect(a2.data()).toEqual(a.data());
    expect(big.data()).toEqual(['{"n":3}', '{"n":4}', '{"n":5}']);
    expect(frameChunks(all)).toHaveLength(2);
    expect(frameChunks(a)).toHaveLength(1);
  });

  it("still closes a stream whose reader fell behind, and sends the others everything", async () => {
    const { hub, port, metrics } = await startHub({ holdMs: 20, busyEvents: 1 }, 64 * 1024);
    const slow = await openStream(port);
    const fast = await openStream(port);
    slow.socket.pause(); // reads nothing more: the kernel buffers fill, then the hub's
    const pad = "z".repeat(60_000);
    const sent = 200; // 12 MB: more than the kernel's buffers hold
    for (let i = 0; i < sent; i++) {
      hub.publish([event("t", { i, pad })]);
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 25)); // a flush every ten or so
    }
    await fast.until("every frame", () => fast.data().length === sent, 20_000);
    expect(fast.data().map((d) => (JSON.parse(d) as { i: number }).i)).toEqual([...Array(sent).keys()]);
    await slow.until("the slow stream closed", () => hub.size === 1);
    expect((await metrics.streamsClosedSlow.get()).values[0]!.value).toBe(1);
    expect((await metrics.streamFramesDropped.get()).values[0]!.value).toBeGreaterThan(0);
  });

  it("go out before the goodbye on shutdown", async () => {
    const { hub, port } = await startHub({ holdMs: 60_000, busyEvents: 1 });
    const stream = await openStream(port);
    hub.publish([event("t", { n: 1 })]);
    hub.publish([event("t", { n: 2 })]); // held for a minute
    await stream.until("the first frame", () => stream.data().length === 1);
    hub.closeAll();
    await stream.until("the body's end", () => stream.ended());
    expect(stream.data()).toEqual(['{"n":1}', '{"n":2}']);
    expect(stream.chunks.join("")).toMatch(/data: \{"n":2\}\n\nretry: 2000\n: server shutting down\n\n$/);
  });
});

describe("what counts as busy", () => {
  const events = (...ns: number[]) => ns.map((n) => event("t", { n }));

  it("writes a commit of fewer than busyEvents events at once, however recent the last write", async () => {
    const { hub, port } = await startHub({ holdMs: 60_000, busyEvents: 3 });
    const stream = await openStream(port);
    hub.publish(events(1));
    hub.publish(events(2, 3)); // right after the write, but small: not held (for a minute)
    hub.publishLive([{ ...event("t", { n: 4 }), seq: undefined } as never]);
    await stream.until("every frame", () => stream.data().length === 4, 2_000);
    expect(stream.data()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']);
    expect(frameChunks(stream)).toHaveLength(3);
  });

  it("writes a busy commit at once when the last write is older than holdMs", async () => {
    const { hub, port } = await startHub({ holdMs: 60_000, busyEvents: 3 });
    const stream = await openStream(port);
    hub.publish(events(1, 2, 3)); // nothing written before: at once
    await stream.until("the first commit", () => stream.data().length === 3, 2_000);
    expect(frameChunks(stream)).toHaveLength(1);
  });

  it("holds a busy commit after a recent write, and the small ones after it, in order", async () => {
    const { hub, port } = await startHub({ holdMs: 60_000, busyEvents: 3 });
    const stream = await openStream(port);
    hub.publish(events(1));
    hub.publish(events(2, 3, 4)); // held (for a minute)
    hub.publish(events(5)); // small, but the hub is busy: held too
    await stream.until("the first frame", () => stream.data().length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(stream.data()).toHaveLength(1);
    hub.closeAll();
    await stream.until("the body's end", () => stream.ended());
    expect(stream.data()).toEqual([1, 2, 3, 4, 5].map((n) => `{"n":${n}}`));
    expect(frameChunks(stream)).toHaveLength(2);
  });

  it("writes held busy commits together once holdMs has passed since the last write", async () => {
    const { hub, port } = await startHub({ holdMs: 200, busyEvents: 2 });
    const stream = await openStream(port);
    hub.publish(events(1, 2));
    const written = performance.now();
    hub.publish(events(3, 4));
    hub.publish(events(5, 6));
    await stream.until("every frame", () => stream.data().length === 6, 2_000);
    expect(performance.now() - written).toBeGreaterThanOrEqual(190);
    expect(frameChunks(stream)).toHaveLength(2);
    expect(frameChunks(stream)[1]).toMatch(/"n":3.*"n":4.*"n":5.*"n":6/s);
  });
});
