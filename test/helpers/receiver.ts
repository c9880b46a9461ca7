import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes on one machine. */
export function nowAbsMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One request the receiver got, recorded once its body had arrived. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** Lower-case names, as Node parses them. */
  headers: IncomingHttpHeaders;
  /** The body as raw bytes decoded as UTF-8, exactly as sent. */
  body: string;
  /** {@link nowAbsMs} when the whole body had arrived. */
  receivedAt: number;
  /** The client's port: requests with the same one came over the same connection. */
  remotePort: number;
  /** The status answered, or null when the receiver did not answer with a status (timeout, stopped, `write`). */
  answered: number | null;
}

/**
 * What the receiver does with a request: answer with a status (and headers, body), never answer, or `write` the
 * reply itself (bodies that stall, trickle or never end).
 */
export type Reply = { status: number; headers?: Record<string, string>; body?: string | Buffer } | "timeout" | { write: (res: ServerResponse) => void };

/** A fixed reply, or one chosen per request (the request is already recorded when this runs). */
export type Behaviour = Reply | ((req: ReceivedRequest, index: number) => Reply);

/** Options of {@link startReceiver}. */
export interface ReceiverOptions {
  /** Port to listen on; 0 (the default) picks one. */
  port?: number;
  /** Keep every request in `requests` (the default); false only counts them, for benches that take 100,000s. */
  record?: boolean;
  /** Called with every request once its body has arrived, before it is answered. */
  onRequest?: (req: ReceivedRequest) => void;
  /** How long an idle keep-alive connection stays open; 5 s by default. */
  keepAliveTimeoutMs?: number;
}

/** A webhook receiver a test can steer; see {@link startReceiver}. */
export interface Receiver {
  /** `http://127.0.0.1:PORT/hook`; the port stays the same across `stop()`/`start()`. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order (kept across `stop()`/`start()`); empty with `record: false`. */
  readonly requests: ReceivedRequest[];
  /** Requests arrived (recorded or not) and connections opened so far. */
  readonly counts: { readonly requests: number; readonly connections: number };
  /** What to do with requests from now on. */
  respond(behaviour: Behaviour, delayMs?: number): void;
  /** Stops listening and drops every open connection, answered or not: the receiver is down. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Resolves once `n` requests (matching `where`, when given) have arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number, where?: (r: ReceivedRequest) => boolean): Promise<ReceivedRequest[]>;
  /** Resolves once `check(requests)` is true; rejects after `timeoutMs` with `what`. */
  waitUntil(what: string, check: (requests: ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  /** The bodies parsed as JSON, in arrival order. */
  json<T = any>(): T[];
  /** Stops for good. */
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on 127.0.0.1 that records every request and answers as told: a status (200 by default),
 * optionally after `delayMs`, or never (a timeout for the sender). The tests' receiver and the benches' (which
 * count instead of recording).
 * @example
 * const receiver = await startReceiver();
 * receiver.respond((req) => (req.body.includes('"poison":true') ? { status: 500 } : { status: 200 }));
 * await receiver.waitFor(3);
 * await receiver.close();
 */
export async function startReceiver(initial: Behaviour = { status: 200 }, options: ReceiverOptions = {}): Promise<Receiver> {
  const { record: keep = true, onRequest, keepAliveTimeoutMs = 5_000 } = options;
  const requests: ReceivedRequest[] = [];
  const counts = { requests: 0, connections: 0 };
  let behaviour: Behaviour = initial;
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const waiters = new Set<() => void>();
  let port = options.port ?? 0;
  let server: Server | undefined;
  let closed = false;

  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const makeServer = () => {
    const s = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const record: ReceivedRequest = {
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          receivedAt: nowAbsMs(),
          remotePort: req.socket.remotePort ?? 0,
          answered: null,
        };
        const index = counts.requests++;
        if (keep) requests.push(record);
        onRequest?.(record);
        const reply = typeof behaviour === "function" ? behaviour(record, index) : behaviour;
        const answer = () => {
          if (reply === "timeout" || res.destroyed) {
            hanging.add(res);
            res.on("close", () => hanging.delete(res));
            notify();
            return;
          }
          if ("write" in reply) {
            reply.write(res);
            notify();
            return;
          }
          record.answered = reply.status;
          res.writeHead(reply.status, reply.headers ?? {});
          res.end(reply.body ?? "");
          notify();
        };
        if (delayMs > 0 && reply !== "timeout") setTimeout(answer, delayMs);
        else answer();
      });
    });
    s.on("connection", (socket) => {
      counts.connections++;
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    s.keepAliveTimeout = keepAliveTimeoutMs;
    return s;
  };

  const listen = async () => {
    const s = makeServer();
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        s.off("error", reject);
        resolve();
      });
    });
    const address = s.address();
    port = typeof address === "object" && address ? address.port : port;
    server = s;
  };

  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closing = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    hanging.clear();
    await closing;
  };

  await listen();

  const receiver: Receiver = {
    get url() {
      return `http://127.0.0.1:${port}/hook`;
    },
    get port() {
      return port;
    },
    requests,
    counts,
    respond(next, delay = 0) {
      behaviour = next;
      delayMs = delay;
    },
    stop,
    async start() {
      if (closed) throw new Error("the receiver is closed");
      if (server) return;
      // The port was ours a moment ago; retry briefly in case the kernel still holds it.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen();
          return;
        } catch (error) {
          if (attempt >= 20 || (error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    waitFor(n, timeoutMs = 10_000, where) {
      const matching = () => (where ? requests.filter(where) : requests);
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = matching();
          if (found.length >= n) {
            finish();
            resolve(found.slice());
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out waiting for ${n} requests; got ${matching().length}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    waitUntil(what, check, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const test = () => {
          if (check(requests)) {
            finish();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out waiting for ${what}; ${requests.length} requests so far`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(test);
        };
        waiters.add(test);
        test();
      });
    },
    json() {
      return requests.map((r) => JSON.parse(r.body));
    },
    async close() {
      closed = true;
      await stop();
    },
  };
  return receiver;
}
