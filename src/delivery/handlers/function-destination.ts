import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { StoredEvent, Subscription } from "../../store/store.js";
import type { DeliveryOutcome, Destination, OutgoingDelivery } from "../destination.js";
import { MAX_RETRY_DELAY_S } from "../webhooks/retry-policy.js";
import { isFunctionUrl, type Handler, type HandlerSpec } from "./handler-options.js";

/** What `onError` learns with each error: the handler, event and attempt of a failed run; nothing of those for an internal error. */
export interface ErrorInfo {
  /** The handler's name, for a failed run. */
  handler?: string;
  event?: StoredEvent;
  attempt?: number;
  deliveryId?: string;
  /** For an internal error: what the hub was doing (its log message). */
  during?: string;
}

/** `HubOptions.onError`: called for each failed handler run and for internal errors of the delivery loop. */
export type ErrorReporter = (err: unknown, info: ErrorInfo) => void;

/** Longest error message kept in an attempt's record. */
const MAX_ERROR_CHARS = 2000;

/**
 * The destination of kind "function": runs in-process handlers for the subscriptions whose url is `function:<name>`,
 * and hands every other delivery to `next` (the broker and webhook router). A run that returns is delivered; one that
 * throws is a failed attempt with the error's message, reported to `onError`. Only handlers registered in this
 * process, once the hub has started them, are {@link serves served} here: other nodes' handlers are left to them.
 */
export class FunctionDestination implements Destination {
  private readonly handlers = new Map<string, { spec: HandlerSpec; fn: Handler }>();
  private running = false;

  constructor(
    private readonly next: Destination,
    private readonly options: { log: Logger; report: ErrorReporter },
  ) {}

  /** Adds a handler (its name is checked unique by the caller). */
  register(spec: HandlerSpec, fn: Handler): void {
    this.handlers.set(spec.url, { spec, fn });
  }

  /** Whether a handler of this name is registered here. */
  has(url: string): boolean {
    return this.handlers.has(url);
  }

  /** From now on the registered handlers are served (`hub.start()`). */
  startRunning(): void {
    this.running = true;
  }

  serves(sub: Subscription): boolean {
    if (!isFunctionUrl(sub.url)) return this.next.serves?.(sub) ?? true;
    return this.running && this.handlers.has(sub.url);
  }

  send(delivery: OutgoingDelivery): Promise<DeliveryOutcome> {
    const handler = this.handlers.get(delivery.subscription.url);
    if (handler) return this.run(handler.spec, handler.fn, delivery);
    if (!isFunctionUrl(delivery.subscription.url)) return this.next.send(delivery);
    return Promise.resolve(failed(`no handler ${JSON.stringify(delivery.subscription.url)} is registered on this node`, 0, undefined));
  }

  open(sub: Subscription): void {
    if (!isFunctionUrl(sub.url)) this.next.open?.(sub);
  }

  release(subscriptionId: string): void {
    this.next.release?.(subscriptionId);
  }

  private async run(spec: HandlerSpec, fn: Handler, delivery: OutgoingDelivery): Promise<DeliveryOutcome> {
    const { event, deliveryId, attempt } = delivery;
    const logger = this.options.log.child({ handler: spec.name, deliveryId, attempt });
    const started = performance.now();
    try {
      await fn(event, { attempt, deliveryId, logger });
      return { ok: true, status: null, latencyMs: performance.now() - started, responseExcerpt: null, error: null, gone: false };
    } catch (error) {
      const latencyMs = performance.now() - started;
      logger.warn({ err: error }, "handler run failed");
      this.report(error, { handler: spec.name, event, attempt, deliveryId });
      return failed(messageOf(error), latencyMs, spec.backoff ? this.waitAfter(spec, attempt) : undefined);
    }
  }

  /** A function backoff's wait after failure `attempt`, kept within 0 to 7 days (a bad value is reported and counts as 0). */
  private waitAfter(spec: HandlerSpec, attempt: number): number {
    try {
      const ms = spec.backoff!(attempt);
      if (typeof ms === "number" && Number.isFinite(ms)) return Math.min(Math.max(0, ms), MAX_RETRY_DELAY_S * 1000);
      throw new TypeError(`backoff(${attempt}) of handler ${JSON.stringify(spec.name)} returned ${String(ms)}, not a number of ms`);
    } catch (error) {
      this.report(error, { handler: spec.name, attempt, during: "computing the backoff" });
      return 0;
    }
  }

  private report(error: unknown, info: ErrorInfo): void {
    try {
      this.options.report(error, info);
    } catch (thrown) {
      this.options.log.warn({ err: thrown }, "onError threw");
    }
  }
}

function failed(error: string, latencyMs: number, retryAfterMs: number | undefined): DeliveryOutcome {
  return { ok: false, status: null, latencyMs, responseExcerpt: null, error, gone: false, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}
