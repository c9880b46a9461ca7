import { nowAbsMs, startReceiver, type ReceivedRequest, type Receiver } from "../../test/helpers/receiver.js";

export { nowAbsMs };

/** Options of {@link WebhookCounter.start}. */
export interface CounterOptions {
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
 * The webhook receiver of the delivery benches: the tests' receiver (test/helpers/receiver.ts), counting instead of
 * recording and answering 204. It runs in its own child process (a `bench/worker.ts` named "receiver"), so it has a
 * core of its own.
 */
class WebhookCounter {
  private receiver: Receiver | undefined;
  private measure = false;
  requests = 0;
  private ids = new Set<string>();
  private firstAtMs = 0;
  private lastAtMs = 0;
  private latencies: number[] = [];
  private waiter: { count: number; distinct: boolean; resolve: (s: ReceiverStats) => void } | undefined;

  async start(o: CounterOptions): Promise<{ port: number }> {
    if (this.receiver) throw new Error("the receiver is already listening");
    this.measure = o.measure;
    this.receiver = await startReceiver({ status: 204 }, { port: o.port, record: false, keepAliveTimeoutMs: 60_000, onRequest: (r) => this.count(r) });
    return { port: this.receiver.port };
  }

  private count(req: ReceivedRequest): void {
    const at = req.receivedAt;
    this.requests++;
    if (this.requests === 1) this.firstAtMs = at;
    this.lastAtMs = at;
    const id = req.headers["webhook-id"];
    if (typeof id === "string") this.ids.add(id);
    if (this.measure) {
      try {
        const t = (JSON.parse(req.body) as { t?: number }).t;
        if (typeof t === "number") this.latencies.push(at - t);
      } catch {
        // not ours
      }
    }
    const w = this.waiter;
    if (w && (w.distinct ? this.ids.size : this.requests) >= w.count) {
      this.waiter = undefined;
      w.resolve(this.stats());
    }
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
    const receiver = this.receiver;
    this.receiver = undefined;
    await receiver?.close();
  }
}

/** The receiver child's one receiver. */
export const receiver = new WebhookCounter();
