import { createServer, type Server } from "node:http";

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes on one machine. */
export function nowAbsMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Options of {@link startReceiver}. */
export interface ReceiverOptions {
  /** Port to listen on; 0 picks one. */
  port: number;
  /** Parse each body as JSON `{t}` (absolute send time, ms) and record arrival − t. */
  measure: boolean;
}

/** What the receiver has seen since it started or was last reset. */
export interface ReceiverStats {
  requests: number;
  /** Distinct `webhook-id` values (requests without one are not counted here). */
  distinct: number;
  /** Absolute ms of the first and the last request. */
  firstAtMs: number;
  lastAtMs: number;
}

/**
 * The webhook receiver of the delivery benches: a bare `node:http` server that reads each body, answers 204 and
 * counts. It runs in its own child process (a `bench/worker.ts` named "receiver"), so it has a core of its own.
 */
class Receiver {
  private server: Server | undefined;
  private measure = false;
  requests = 0;
  private ids = new Set<string>();
  private firstAtMs = 0;
  private lastAtMs = 0;
  private latencies: number[] = [];
  private waiter: { count: number; distinct: boolean; resolve: (s: ReceiverStats) => void } | undefined;

  async start(o: ReceiverOptions): Promise<{ port: number }> {
    if (this.server) throw new Error("the receiver is already listening");
    this.measure = o.measure;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => {
        if (this.measure) chunks.push(c);
      });
      req.on("end", () => {
        const at = nowAbsMs();
        this.requests++;
        if (this.requests === 1) this.firstAtMs = at;
        this.lastAtMs = at;
        const id = req.headers["webhook-id"];
        if (typeof id === "string") this.ids.add(id);
        if (this.measure) {
          try {
            const t = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { t?: number }).t;
            if (typeof t === "number") this.latencies.push(at - t);
          } catch {
            // not ours
          }
        }
        res.writeHead(204).end();
        const w = this.waiter;
        if (w && (w.distinct ? this.ids.size : this.requests) >= w.count) {
          this.waiter = undefined;
          w.resolve(this.stats());
        }
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, "127.0.0.1", resolve);
    });
    this.server = server;
    const address = server.address();
    return { port: typeof address === "object" && address ? address.port : o.port };
  }

  stats(): ReceiverStats {
    return { requests: this.requests, distinct: this.ids.size, firstAtMs: this.firstAtMs, lastAtMs: this.lastAtMs };
  }

  reset(measure: boolean): void {
    this.measure = measure;
    this.requests = 0;
    this.ids = new Set();
    this.firstAtMs = 0;
    this.lastAtMs = 0;
    this.latencies = [];
  }

  /** Resolves once `count` requests (or distinct webhook ids) have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, distinct: boolean, timeoutMs: number): Promise<ReceiverStats> {
    if ((distinct ? this.ids.size : this.requests) >= count) return Promise.resolve(this.stats());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`the receiver got ${this.requests} requests (${this.ids.size} distinct ids) of ${count} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        count,
        distinct,
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      };
    });
  }

  takeLatencies(): number[] {
    const l = this.latencies;
    this.latencies = [];
    return l;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

export const receiver = new Receiver();
