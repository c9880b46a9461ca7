import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, metricValue, postJson, request } from "../helpers/hub.js";
import { removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";
import { openLiveSse } from "../helpers/sse.js";

// The hub runs as a child process so that its 10,000 sockets do not count against this process's limits.
let hub: SpawnedHub;

beforeAll(async () => {
  // Every stream comes from one client (127.0.0.1): lift the per-client limits.
  hub = await spawnHub({ env: { SWITCHBOARD_MAX_STREAMS_PER_CREDENTIAL: "100000", SWITCHBOARD_RATE_LIMIT_API_PER_S: "0" } });
}, 30_000);
afterAll(async () => {
  await hub?.stop();
  if (hub) await removeDir(hub.dir);
});

const STREAMS = 10_000;
const CHUNK = 1_000;
const CHURN = 2_000;

interface RawStream {
  socket: Socket;
  received: string;
}

/** Opens a stream on a bare socket; resolves once the response head is in. */
function openRaw(port: number, path: string): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const stream: RawStream = { socket: connect({ host: "127.0.0.1", port }), received: "" };
    stream.socket.setEncoding("latin1");
    stream.socket.on("error", reject);
    stream.socket.on("close", () => reject(new Error(`closed before the head: ${JSON.stringify(stream.received)}`)));
    stream.socket.on("data", (chunk: string) => {
      stream.received += chunk;
      if (stream.received.includes("\r\n\r\n")) resolve(stream);
    });
    stream.socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\n\r\n`);
  });
}

/** Connects, sends a request and drops the connection at once, before or after the hub answered. */
function churn(port: number, i: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    socket.on("close", () => resolve());
    socket.on("connect", () => {
      socket.write(`GET /events?topic=many.churn HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
      if (i % 2 === 0) socket.resetAndDestroy();
      else setImmediate(() => socket.destroy());
    });
  });
}

async function streamsOpen(): Promise<number | undefined> {
  return metricValue((await request(`${hub.url}/metrics`)).text, "switchboard_streams_open");
}

describe("10,000 streams connecting and disconnecting at once", () => {
  it("leave the hub up and correct", async () => {
    const streams: RawStream[] = [];
    try {
      for (let start = 0; start < STREAMS; start += CHUNK) {
        const opening = Array.from({ length: CHUNK }, () => openRaw(hub.port, "/events?topic=many.streams"));
        const churning = Array.from({ length: CHURN / (STREAMS / CHUNK) }, (_, i) => churn(hub.port, i));
        const [opened] = await Promise.all([Promise.all(opening), Promise.all(churning)]);
        for (const s of opened) {
          s.socket.removeAllListeners("close");
          s.socket.on("error", () => {});
          streams.push(s);
        }
      }
      expect(streams).toHaveLength(STREAMS);
      for (const s of streams) expect(s.received.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
      await eventually("10,000 open streams", async () => ((await streamsOpen()) === STREAMS ? true : undefined), 20_000);

      // Every one of them gets a new event.
      const posted = await postJson(`${hub.url}/api/events?topic=many.streams`, { hello: "everyone" });
      expect(posted.status).toBe(201);
      const frame = `id: ${posted.body.id}\ndata: {"hello":"everyone"}\n\n`;
      await eventually("the event on every stream", () => (streams.every((s) => s.received.includes(frame)) ? true : undefined), 20_000);
    } finally {
      // All dropped at once, half with a reset and half with a FIN.
      streams.forEach((s, i) => (i % 2 === 0 ? s.socket.resetAndDestroy() : s.socket.destroy()));
    }

    await eventually("every stream to be closed", async () => ((await streamsOpen()) === 0 ? true : undefined), 20_000);
    expect((await request(`${hub.url}/health`)).status).toBe(200);
    expect((await request(`${hub.url}/ready`)).status).toBe(200);

    // A new stream still works.
    const fresh = await openLiveSse(hub.url, "/events?topic=many.after");
    try {
      const posted = await postJson(`${hub.url}/api/events?topic=many.after`, { fresh: true });
      expect(posted.status).toBe(201);
      await fresh.waitForEvents(1);
      expect(fresh.text).toBe(`retry: 2000\n: connected\n\nid: ${posted.body.id}\ndata: {"fresh":true}\n\n`);
    } finally {
      fresh.close();
      await fresh.closed;
    }
    expect(hub.process.exitCode).toBeNull();
  }, 60_000);
});
