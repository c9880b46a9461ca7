import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";
import { createSubscription, eventIdOf, publishMany } from "../helpers/webhooks.js";

// Webhook receivers that misbehave on purpose: one that accepts and never answers, ones that trickle their response
// (headers, or the body after the headers), one that answers 10 MB. Each attempt ends within the subscription's
// timeout (plus room for a loaded machine), is recorded with what happened, the hub's memory stays bounded, and a
// well-behaved subscription is served meanwhile.

const TIMEOUT_MS = 600;
/** Room for a loaded machine in upper bounds of liveness. */
const MARGIN_MS = 1_500;
const MB = 1024 * 1024;

let hub: TestHub;
let good: Receiver;
const servers: Array<HttpServer | TcpServer> = [];
const sockets = new Set<Socket>();

/** Listens on 127.0.0.1 and port 0; returns the base URL. Every socket is tracked, to be destroyed at the end. */
async function listen(server: HttpServer | TcpServer): Promise<string> {
  servers.push(server);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hook`;
}

/** Accepts, reads the request, never answers. */
const silentServer = () => createTcpServer((socket) => socket.resume());

/** Answers a status line, then a header byte every 100 ms: the headers never end. */
const tricklingHeadersServer = () =>
  createTcpServer((socket) => {
    socket.resume();
    socket.once("data", () => {
      socket.write("HTTP/1.1 200 OK\r\n");
      const bytes = "x-slow: " + "z".repeat(100_000);
      let at = 0;
      const timer = setInterval(() => socket.writable && socket.write(bytes[at++ % bytes.length]!), 100);
      socket.on("close", () => clearInterval(timer));
    });
  });

/** Answers the head at once, then a body byte every 100 ms, never done. */
const tricklingBodyServer = (status: number) =>
  createHttpServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(status, { "content-type": "text/plain", "content-length": String(1_000_000) });
      const timer = setInterval(() => res.write("."), 100);
      res.on("close", () => clearInterval(timer));
    });
  });

const HUGE_BODY = Buffer.alloc(10 * MB, "z");
const HUGE_TIMEOUT_MS = 10_000;
/** Bytes the 10 MB receiver got written before its clients went away, and the responses it began. */
const huge = { responses: 0, bytesWritten: 0 };
/** Answers `status` with a 10 MB body. */
const hugeServer = (status: number) =>
  createHttpServer((req, res) => {
    req.resume();
    req.on("end", () => {
      huge.responses++;
      res.writeHead(status, { "content-type": "text/plain", "content-length": String(HUGE_BODY.length) });
      res.end(HUGE_BODY);
      res.on("close", () => (huge.bytesWritten += res.socket?.bytesWritten ?? 0));
    });
  });

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  good = await startReceiver();
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await good.close();
  await hub.close();
});

/** A subscription with a timeout of `timeoutMs` and one attempt per delivery (so each delivery ends dead or delivered). */
const hostileSubscription = (topic: string, url: string, timeoutMs = TIMEOUT_MS) =>
  createSubscription(hub.url, { topic, url, timeout_ms: timeoutMs, retry: { schedule: [0] } });

/** The subscription's deliveries once none is pending or retrying, each with its attempts. */
async function settledDeliveries(subscriptionId: string, count: number, timeoutMs = 20_000): Promise<any[]> {
  const list = await eventually(
    `${count} settled deliveries`,
    async () => {
      const page = (await request(`${hub.url}/api/deliveries?subscription=${subscriptionId}&limit=1000`)).body;
      const settled = page.data.filter((d: any) => d.status === "delivered" || d.status === "dead");
      return settled.length >= count ? settled : undefined;
    },
    timeoutMs,
  );
  return Promise.all(list.map(async (d: any) => (await request(`${hub.url}/api/deliveries/${d.id}`)).body));
}

describe("each hostile receiver's attempts end within the timeout and are recorded with what happened", () => {
  it.each([
    ["accepts and never answers", () => silentServer(), "dead", null, /^timeout after 600 ms$/],
    ["trickles its headers, a byte every 100 ms", () => tricklingHeadersServer(), "dead", null, /^timeout after 600 ms$/],
    [
      "answers 503, then trickles the body, a byte every 100 ms",
      () => tricklingBodyServer(503),
      "dead",
      503,
      /^response body not received in full within 600 ms$/,
    ],
    [
      "answers 200, then trickles the body, a byte every 100 ms",
      () => tricklingBodyServer(200),
      "delivered",
      200,
      /^response body not received in full within 600 ms$/,
    ],
  ] as const)("a receiver that %s", async (name, make, status, statusCode, error) => {
    const url = await listen(make());
    const topic = `chaos.hostile.${name.split(" ")[0]}${statusCode ?? ""}`;
    const sub = await hostileSubscription(topic, url);
    await publishMany(hub.url, topic, 3);
    const deliveries = await settledDeliveries(sub.id, 3);
    for (const delivery of deliveries) {
      expect(delivery.status).toBe(status);
      expect(delivery.attempts).toHaveLength(1);
      const [attempt] = delivery.attempts;
      expect(attempt.status_code).toBe(statusCode);
      expect(attempt.error).toMatch(error);
      // The timeout is honoured: the attempt took its budget, and not much more. The lower bound has slack: one CI run
      // recorded 589 ms for a 600 ms budget (not reproduced here; a timer set at 600 fired at 600.3–601.9 ms in a
      // script, from a timer, an I/O callback and setImmediate after 20 ms of busy work).
      expect(attempt.latency_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 30);
      expect(attempt.latency_ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      if (statusCode !== null) expect(attempt.response_excerpt).toMatch(/^\.*$/);
    }
  });
});

/** A full collection, through the gc that `--expose-gc` would give (so the heap measured holds only what is live). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

function liveBytes(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe("a receiver that answers 10 MB", () => {
  it("only an excerpt is read: 50 deliveries of 10 MB answers grow the hub's memory by far less than one of them kept", async () => {
    const url = await listen(hugeServer(200));
    const failingUrl = await listen(hugeServer(500));
    const topic = "chaos.hostile.huge";
    // Not about the timeout: a budget that a loaded machine cannot miss.
    const sub = await hostileSubscription(topic, url, HUGE_TIMEOUT_MS);
    const failing = await hostileSubscription(`${topic}.failing`, failingUrl, HUGE_TIMEOUT_MS);
    // Warm up (connections, compiled code, the store's caches), then measure.
    await publishMany(hub.url, topic, 5);
    await settledDeliveries(sub.id, 5);
    const before = liveBytes();
    const rssBefore = process.memoryUsage().rss;

    await publishMany(hub.url, topic, 50);
    await publishMany(hub.url, `${topic}.failing`, 10);
    const deliveries = await settledDeliveries(sub.id, 55);
    const failed = await settledDeliveries(failing.id, 10);

    const grown = liveBytes() - before;
    const rssGrown = process.memoryUsage().rss - rssBefore;
    // 50 bodies kept would be 500 MB; even one is 10 MB.
    expect(grown, `live heap and buffers grew by ${Math.round(grown / MB)} MB`).toBeLessThan(10 * MB);
    expect(rssGrown, `RSS grew by ${Math.round(rssGrown / MB)} MB`).toBeLessThan(100 * MB);
    console.info(`50 deliveries of 10 MB answers: live heap and buffers ${Math.round(grown / MB)} MB, RSS ${Math.round(rssGrown / MB)} MB`);

    for (const delivery of deliveries) {
      expect(delivery.status, JSON.stringify(delivery.attempts[0]).slice(0, 300)).toBe("delivered");
      const [attempt] = delivery.attempts;
      expect(attempt.status_code).toBe(200);
      expect(attempt.response_excerpt).toBe("z".repeat(4096));
      // A long answer is not an error: the excerpt is its first 4 KiB.
      expect(attempt.error).toBeNull();
      expect(attempt.latency_ms).toBeLessThan(HUGE_TIMEOUT_MS);
    }
    for (const delivery of failed) {
      expect(delivery.status).toBe("dead");
      expect(delivery.attempts[0]).toMatchObject({ status_code: 500, response_excerpt: "z".repeat(4096), error: null });
    }
    // The rest of each body was dropped with its connection, not read: most of the 10 MB were never even sent.
    expect(huge.responses).toBeGreaterThanOrEqual(65);
    expect(huge.bytesWritten / huge.responses).toBeLessThan(HUGE_BODY.length / 2);
  });
});

describe("a well-behaved subscription is served while hostile ones hold their attempts", () => {
  it("its events are delivered while attempts to a silent receiver are still open", async () => {
    let open = 0;
    const silent = createTcpServer((socket) => {
      open++;
      socket.on("close", () => open--);
      socket.resume();
    });
    const silentUrl = await listen(silent);
    // A long timeout, so that the good subscription's events go through while these attempts hang.
    const hanging = await createSubscription(hub.url, { topic: "chaos.hostile.hang", url: silentUrl, timeout_ms: 20_000, retry: { schedule: [0] } });
    await createSubscription(hub.url, { topic: "chaos.hostile.hang", url: await listen(tricklingBodyServer(200)), timeout_ms: 20_000 });
    await createSubscription(hub.url, { topic: "chaos.hostile.good", url: good.url });
    await publishMany(hub.url, "chaos.hostile.hang", 20);
    await eventually("attempts hanging on the silent receiver", () => (open >= 16 ? true : undefined));

    const posted = await publishMany(hub.url, "chaos.hostile.good", 100);
    await good.waitUntil("the good subscription's 100 events", (all) => new Set(all.map(eventIdOf)).size >= 100, 15_000);
    expect(new Set(good.requests.map(eventIdOf))).toEqual(new Set(posted.map((p) => p.id)));
    // Still hanging: the good events did not wait for them.
    expect(open).toBeGreaterThanOrEqual(16);
    const pending = (await request(`${hub.url}/api/deliveries?subscription=${hanging.id}&status=pending&limit=1000`)).body.data;
    expect(pending.length).toBeGreaterThan(0);
  });
});
