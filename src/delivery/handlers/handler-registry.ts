import type { Logger } from "pino";
import { HubError } from "../../errors.js";
import { newPrefixedId } from "../../ids.js";
import type { Store, Subscription } from "../../store/store.js";
import type { Dispatcher } from "../dispatcher.js";
import type { SubscriptionStart } from "../subscription-fields.js";
import type { ErrorReporter, FunctionDestination } from "./function-destination.js";
import { liveTopicRefusal } from "../subscriptions.js";
import { checkHandler, handlerNameOf, isFunctionUrl, type Handler, type HandlerOptions, type HandlerSpec } from "./handler-options.js";

/** What `hub.handle` returns. */
export interface HandlerRegistration {
  readonly name: string;
  /** Resolves once the handler's subscription is stored and dispatching (after `hub.start()`); rejects if that failed (also reported to `onError`). */
  readonly ready: Promise<void>;
}

/** Options of {@link HandlerRegistry}. */
export interface HandlerRegistryOptions {
  store: Store;
  dispatcher: Dispatcher;
  destination: FunctionDestination;
  log: Logger;
  report: ErrorReporter;
  now: () => number;
  /** Whether a topic is live-only: a handler of one is refused (nothing of it is stored to deliver). */
  isLiveTopic?: (topic: string) => boolean;
}

/** Why a handler is paused at a start that does not register it. */
export const UNREGISTERED_REASON = "no handler of this name was registered at the last hub.start()";

interface Pending {
  spec: HandlerSpec;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The handlers of one hub: `hub.handle` checks and records them; `hub.start()` stores each as a subscription of kind
 * "function" (created on the first run, brought up to date on later ones, resumed if it was paused), pauses the
 * stored handlers this run does not register, and lets the dispatcher run them. A handler registered after the
 * start is stored and runs at once.
 */
export class HandlerRegistry {
  private readonly names = new Set<string>();
  private pending: Pending[] = [];
  private started: Promise<void> | undefined;

  constructor(private readonly options: HandlerRegistryOptions) {}

  /**
   * Registers a handler.
   * @throws HubError `SB_HANDLER_INVALID` / `SB_FILTER_INVALID` for bad options, `SB_HANDLER_EXISTS` for a name taken here.
   */
  handle(topic: string, fn: Handler, options: HandlerOptions): HandlerRegistration {
    const spec = checkHandler(topic, fn, options);
    if (this.options.isLiveTopic?.(spec.topic)) throw liveTopicRefusal(spec.topic, "handler");
    if (this.names.has(spec.name)) throw new HubError("SB_HANDLER_EXISTS", `a handler named ${JSON.stringify(spec.name)} is already registered`);
    this.names.add(spec.name);
    this.options.destination.register(spec, fn);
    let ready: Promise<void>;
    if (this.started) ready = this.started.catch(() => undefined).then(() => this.store(spec));
    else ready = new Promise<void>((resolve, reject) => this.pending.push({ spec, resolve, reject }));
    // The caller need not await `ready`: a failure is reported, not left unhandled.
    ready.catch((error: unknown) => this.options.report(error, { handler: spec.name, during: "storing the handler" }));
    return { name: spec.name, ready };
  }

  /** Stores the registered handlers, pauses the unregistered ones, and starts dispatching. Idempotent. */
  start(): Promise<void> {
    this.started ??= this.startOnce();
    return this.started;
  }

  private async startOnce(): Promise<void> {
    this.options.destination.startRunning();
    // Higher priority first: its worker starts first.
    const pending = this.pending.sort((a, b) => b.spec.priority - a.spec.priority);
    this.pending = [];
    let firstError: unknown;
    for (const p of pending) {
      try {
        await this.store(p.spec);
        p.resolve();
      } catch (error) {
        p.reject(error);
        firstError ??= error;
      }
    }
    await this.pauseUnregistered();
    if (firstError !== undefined) throw firstError;
  }

  /** Creates or updates the handler's subscription, then has the dispatcher (here and on other nodes) re-read it. */
  private async store(spec: HandlerSpec): Promise<void> {
    const { store, now } = this.options;
    let sub = await this.find(spec.url);
    if (!sub) {
      try {
        sub = await this.create(spec);
      } catch (error) {
        // Another node created it at the same time: its row is this handler's too.
        if (!(error instanceof HubError && error.code === "SB_SUBSCRIPTION_EXISTS")) throw error;
        sub = await this.find(spec.url);
        if (!sub) throw error;
      }
    }
    const patch = {
      topic: spec.topic,
      filter: spec.filter,
      ordering: spec.ordering,
      retrySchedule: spec.retrySchedule,
      maxInFlight: spec.maxInFlight,
      priority: spec.priority,
      active: true,
      disabledReason: null,
    };
    if (!sameFields(sub, patch)) await store.subscriptions.update(sub.id, patch, now());
    await this.options.dispatcher.refresh(sub.id);
    await store.cluster?.announceSubscriptionChange(sub.id);
  }

  private async create(spec: HandlerSpec): Promise<Subscription> {
    const at = this.options.now();
    const sub: Subscription = {
      id: newPrefixedId("sub", at),
      topic: spec.topic,
      url: spec.url,
      filter: spec.filter,
      headers: {},
      secret: "",
      active: true,
      disabledReason: null,
      ordering: spec.ordering,
      retrySchedule: spec.retrySchedule,
      // How long a claimed retry stays this node's: runs are not cut short, so this only bounds a takeover.
      timeoutMs: 60_000,
      maxInFlight: spec.maxInFlight,
      rateLimit: null,
      body: "envelope",
      cursorSeq: await this.startCursor(spec.start),
      failingSince: null,
      priority: spec.priority,
      createdAt: at,
      updatedAt: at,
    };
    await this.options.store.subscriptions.create(sub);
    return sub;
  }

  /** Pauses (never deletes) the stored handlers this process does not register: their cursors and deliveries wait. */
  private async pauseUnregistered(): Promise<void> {
    const { store, destination, now, log } = this.options;
    for (const sub of await store.subscriptions.list()) {
      if (!isFunctionUrl(sub.url) || destination.has(sub.url) || !sub.active) continue;
      log.warn({ subscriptionId: sub.id, handler: handlerNameOf(sub.url) }, "handler not registered: paused");
      await store.subscriptions.update(sub.id, { active: false, disabledReason: UNREGISTERED_REASON }, now());
      await this.options.dispatcher.refresh(sub.id);
      await store.cluster?.announceSubscriptionChange(sub.id);
    }
  }

  private async find(url: string): Promise<Subscription | undefined> {
    return (await this.options.store.subscriptions.list()).find((s) => s.url === url);
  }

  private async startCursor(start: SubscriptionStart): Promise<number> {
    const { events } = this.options.store;
    if (start === "now") return events.lastSeq();
    if (start === "beginning") return 0;
    return events.seqBefore(start);
  }
}

function sameFields(sub: Subscription, patch: Partial<Subscription>): boolean {
  return Object.entries(patch).every(([k, v]) => JSON.stringify(sub[k as keyof Subscription]) === JSON.stringify(v));
}
