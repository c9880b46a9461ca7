import type { Logger } from "pino";
import type { BrokerConnection, BrokerDriver, BrokerTarget } from "./broker-driver.js";
import { guardBrokerHost } from "./broker-url.js";

/** First wait before reopening a connection that failed, doubled after each failure up to {@link MAX_BACKOFF_MS}. */
export const MIN_BACKOFF_MS = 250;
/** Longest wait between two attempts to open a connection. */
export const MAX_BACKOFF_MS = 30_000;

/** The state of one pooled broker endpoint, as `/ready` shows it. */
export interface EndpointHealth {
  /** Driver name (`nats`). */
  kind: string;
  /** `nats://broker:4222`: no credentials. */
  endpoint: string;
  state: "connecting" | "connected" | "disconnected";
  /** Subscriptions using it on this node. */
  subscriptions: number;
  /** Why the last connection failed or was lost; null once connected. */
  error: string | null;
}

/** Options of {@link ConnectionPool}. */
export interface ConnectionPoolOptions {
  log: Logger;
  /** `SWITCHBOARD_ALLOW_PRIVATE_TARGETS`: the target guard, checked before each connect. */
  allowPrivate: boolean;
  /** Backoff bounds (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Entry {
  driver: BrokerDriver;
  target: BrokerTarget;
  users: Set<string>;
  state: EndpointHealth["state"];
  connection: BrokerConnection | undefined;
  error: string | null;
  failures: number;
  /** Bumped per connection opened: reports of an older connection are ignored. */
  generation: number;
  opening: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One connection per broker endpoint (scheme, host, port and credentials), shared by the subscriptions that use it.
 * A connection that cannot be opened, or is lost, is reopened with exponential backoff and jitter, the target guard
 * checked again each time; it is closed once its last subscription releases it, and all are closed by
 * {@link close}. Nothing here throws at a caller or leaves a rejection unhandled: failures are the endpoint's state.
 */
export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly options: ConnectionPoolOptions;
  private closed = false;

  constructor(options: ConnectionPoolOptions) {
    this.options = options;
  }

  /** Registers `user` (a subscription id) on the target's endpoint, opening its connection if it is the first. */
  acquire(driver: BrokerDriver, target: BrokerTarget, user: string): void {
    if (this.closed) return;
    let entry = this.entries.get(target.endpointKey);
    if (!entry) {
      entry = {
        driver,
        target,
        users: new Set(),
        state: "connecting",
        connection: undefined,
        error: null,
        failures: 0,
        generation: 0,
        opening: undefined,
        timer: undefined,
      };
      this.entries.set(target.endpointKey, entry);
      this.open(entry);
    }
    entry.users.add(user);
  }

  /** `user` no longer uses the endpoint; the last one out closes the connection. */
  release(endpointKey: string, user: string): void {
    const entry = this.entries.get(endpointKey);
    if (!entry || !entry.users.delete(user) || entry.users.size > 0) return;
    this.entries.delete(endpointKey);
    this.shut(entry, "no subscription uses it");
  }

  /**
   * The open connection of an endpoint, waiting up to `waitMs` while it is being opened; otherwise an Error saying
   * why there is none (`nats://broker:4222 is not connected: connect ECONNREFUSED …`).
   */
  async connection(endpointKey: string, waitMs: number): Promise<BrokerConnection | Error> {
    const entry = this.entries.get(endpointKey);
    if (!entry) return new Error("no connection: the subscription no longer uses this endpoint");
    if (entry.state === "connecting" && entry.opening) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([entry.opening, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    if (entry.state === "connected" && entry.connection) return entry.connection;
    const why = entry.error ?? (entry.state === "connecting" ? `still connecting after ${waitMs} ms` : "connection lost");
    return new Error(`${entry.target.endpointLabel} is not connected: ${why}`);
  }

  /** Every endpoint in use, for `/ready`. */
  health(): EndpointHealth[] {
    return [...this.entries.values()].map((e) => ({
      kind: e.driver.name,
      endpoint: e.target.endpointLabel,
      state: e.state,
      subscriptions: e.users.size,
      error: e.error,
    }));
  }

  /** How many connections are open or being opened (tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Closes every connection; nothing is opened afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((e) => this.shut(e, "hub closing")));
  }

  private open(entry: Entry): void {
    entry.timer = undefined;
    entry.state = "connecting";
    const generation = ++entry.generation;
    const current = () => !this.closed && this.entries.get(entry.target.endpointKey) === entry && entry.generation === generation;
    const { driver, target } = entry;
    const listener = {
      disconnected: (error?: unknown) => {
        if (!current()) return;
        entry.state = "disconnected";
        entry.error = describe(error, "connection lost");
      },
      reconnected: () => {
        if (!current()) return;
        entry.state = "connected";
        entry.error = null;
      },
      closed: (error?: unknown) => {
        if (!current()) return;
        entry.connection = undefined;
        this.failed(entry, describe(error, "connection closed by the broker"));
      },
    };
    entry.opening = (async () => {
      try {
        await guardBrokerHost(target.host, this.options.allowPrivate);
        const connection = await driver.connect(target, listener);
        if (!current()) {
          await connection.close().catch(() => undefined);
          return;
        }
        entry.connection = connection;
        entry.state = "connected";
        entry.error = null;
        entry.failures = 0;
        this.options.log.info({ kind: driver.name, endpoint: target.endpointLabel }, "broker connected");
      } catch (error) {
        if (current()) this.failed(entry, describe(error, "connect failed"));
      } finally {
        if (entry.generation === generation) entry.opening = undefined;
      }
    })();
  }

  /** The connection failed or was lost: note why and open it again after the backoff. */
  private failed(entry: Entry, error: string): void {
    entry.state = "disconnected";
    entry.error = error;
    const delay = backoffMs(entry.failures++, this.options.minBackoffMs ?? MIN_BACKOFF_MS, this.options.maxBackoffMs ?? MAX_BACKOFF_MS);
    this.options.log.warn({ kind: entry.driver.name, endpoint: entry.target.endpointLabel, error, retryInMs: delay }, "broker unavailable");
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.open(entry), delay);
    entry.timer.unref();
  }

  private async shut(entry: Entry, reason: string): Promise<void> {
    clearTimeout(entry.timer);
    entry.generation++;
    const connection = entry.connection;
    entry.connection = undefined;
    if (!connection) return;
    this.options.log.info({ kind: entry.driver.name, endpoint: entry.target.endpointLabel, reason }, "broker connection closed");
    await connection
      .close()
      .catch((error: unknown) => this.options.log.warn({ err: error, endpoint: entry.target.endpointLabel }, "closing a broker connection failed"));
  }
}

/** Exponential backoff with full jitter in its upper half. */
function backoffMs(failures: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(failures, 20));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function describe(error: unknown, fallback: string): string {
  if (error instanceof AggregateError && error.errors.length > 0) return [...new Set(error.errors.map((e) => describe(e, fallback)))].join("; ");
  if (error instanceof Error) {
    // Client errors often carry the reason in `code` and only the server address in the message.
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code !== "" && !error.message.includes(code)) return error.message ? `${code} ${error.message}` : code;
    return error.message || fallback;
  }
  return error === undefined || error === null ? fallback : String(error);
}
