import { HubError } from "../errors.js";
import { newPrefixedId } from "../ids.js";
import type { HubMetrics } from "../metrics.js";
import { compileFilter } from "../routing/filter.js";
import { compileTopicPattern } from "../routing/topic-pattern.js";
import type { Attempt, Delivery, DeliveryStatus, NewDelivery, Store, Subscription, SubscriptionPatch } from "../store/store.js";
import type { Dispatcher } from "./dispatcher.js";
import {
  checkSubscriptionFields,
  type PublisherInput,
  type SubscriptionFields,
  type SubscriptionInput,
  type SubscriptionStart,
} from "./subscription-fields.js";
import { hasMaskedCredential, maskDestinationUrl, restoreMaskedDestinationUrl } from "./destinations/index.js";
import { handlerNameOf, isFunctionUrl } from "./handlers/handler-options.js";
import { DEFAULT_RETRY_SCHEDULE_S } from "./webhooks/retry-policy.js";
import { generateSecret } from "./webhooks/sign.js";
import { isCredentialHeader, maskHeaderValue } from "./webhooks/subscription-headers.js";

export type { PublisherInput, SubscriptionFields, SubscriptionInput, SubscriptionStart } from "./subscription-fields.js";

export {
  MASK,
  MAX_HEADER_BYTES,
  MAX_HEADER_NAME_LENGTH,
  MAX_HEADER_VALUE_LENGTH,
  MAX_HEADERS,
  isCredentialHeader,
  maskHeaderValue,
  maskHeaders,
} from "./webhooks/subscription-headers.js";

/** Options of {@link SubscriptionService}. */
/** How long a rotated-out secret keeps signing unless told otherwise: a day. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 3_600_000;
/** The longest grace of a rotated-out secret: a week. */
export const MAX_ROTATION_GRACE_MS = 7 * 24 * 3_600_000;

export interface SubscriptionServiceOptions {
  store: Store;
  dispatcher: Dispatcher;
  allowPrivateTargets: boolean;
  /** Default attempt timeout of new subscriptions. */
  defaultTimeoutMs: number;
  /** Most subscriptions the store may hold (`SWITCHBOARD_MAX_SUBSCRIPTIONS`); unlimited when not given. */
  maxSubscriptions?: number;
  /** Counts failed filter evaluations of replays. */
  metrics?: HubMetrics;
  now?: () => number;
  /** Whether a topic is live-only: a subscription naming one is refused (nothing of it is stored to deliver). */
  isLiveTopic?: (topic: string) => boolean;
}

/** A delivery with its attempts. */
export interface DeliveryDetail {
  delivery: Delivery;
  attempts: Attempt[];
}

/** A time range `[fromTime, toTime)`, epoch ms; either end may be open. */
export interface TimeRange {
  fromTime?: number;
  toTime?: number;
}

/** A search of deliveries, newest first. */
export interface DeliverySearch {
  subscriptionId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  /** Created at or after, epoch ms. */
  fromTime?: number;
  /** Created before, epoch ms. */
  toTime?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** 1 to 1000; 100 when not given. */
  limit?: number;
}

/** Most deliveries one replay creates. */
export const MAX_REPLAY = 1_000_000;

/**
 * The domain of webhook subscriptions and deliveries: what the HTTP routes, the CLI and the library call. Every
 * change is written to the store first, then handed to the dispatcher.
 */
export class SubscriptionService {
  private readonly options: SubscriptionServiceOptions;
  private readonly now: () => number;
  /** Creations in turn, so that concurrent ones cannot all pass the limit check. */
  private creating: Promise<unknown> = Promise.resolve();

  constructor(options: SubscriptionServiceOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates a subscription.
   * @throws HubError 400 naming the field at fault; 409 past `maxSubscriptions`.
   */
  async create(input: SubscriptionInput): Promise<Subscription> {
    const fields = await this.checkFields(input);
    const now = this.now();
    const sub: Subscription = {
      id: newPrefixedId("sub", now),
      topic: fields.topic!,
      url: fields.url!,
      filter: fields.filter ?? null,
      ...(fields.filterSource ? { filterSyntax: fields.filterSyntax, filterSource: fields.filterSource } : {}),
      headers: fields.headers ?? {},
      secret: fields.secret ?? generateSecret(),
      active: fields.active ?? true,
      disabledReason: null,
      ordering: fields.ordering ?? "none",
      retrySchedule: fields.retrySchedule ?? [...DEFAULT_RETRY_SCHEDULE_S],
      timeoutMs: fields.timeoutMs ?? this.options.defaultTimeoutMs,
      maxInFlight: fields.maxInFlight ?? 16,
      rateLimit: fields.rateLimit ?? null,
      body: fields.body ?? "data",
      cursorSeq: await this.startCursor(input.start),
      failingSince: null,
      priority: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.inTurn(async () => {
      await this.checkLimit();
      await this.options.store.subscriptions.create(sub);
    });
    await this.options.dispatcher.refresh(sub.id);
    await this.announce(sub.id);
    return sub;
  }

  /**
   * Postoffice's publisher: a subscription of `topic` to `target` (a webhook or broker url), from now unless `fromNow`
   * is false.
   * @throws HubError 409 when a subscription of that topic and target exists; 400 when invalid.
   */
  async createPublisher(input: PublisherInput): Promise<Subscription> {
    if (await this.options.store.subscriptions.find(input.topic, input.target)) {
      throw new HubError(
        "SB_SUBSCRIPTION_EXISTS",
        `a publisher for topic ${JSON.stringify(input.topic)} and target ${JSON.stringify(maskDestinationUrl(input.target))} already exists`,
      );
    }
    return this.create({ topic: input.topic, url: input.target, active: input.active, start: input.fromNow === false ? "beginning" : "now" });
  }

  async get(id: string): Promise<Subscription> {
    const sub = await this.options.store.subscriptions.get(id);
    if (!sub) throw new HubError("SB_SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`);
    return sub;
  }

  list(): Promise<Subscription[]> {
    return this.options.store.subscriptions.list();
  }

  /**
   * Changes any field but `start`. A header value equal to the masked form of the current one ({@link maskHeaders})
   * keeps the current value, so that a client that PUTs back what it read does not overwrite a credential; so does a
   * broker url with its credentials masked as GET shows them, for the same endpoint ({@link restoreMaskedDestinationUrl}).
   */
  async update(id: string, changes: SubscriptionFields): Promise<Subscription> {
    await this.writable(id);
    if (typeof changes.url === "string" && hasMaskedCredential(changes.url)) {
      changes = { ...changes, url: restoreMaskedDestinationUrl(changes.url, (await this.get(id)).url) };
    }
    const fields = await this.checkFields(changes);
    if (fields.headers) {
      const current = (await this.get(id)).headers;
      for (const [name, value] of Object.entries(fields.headers)) {
        const was = current[name];
        if (was !== undefined && isCredentialHeader(name, was) && value === maskHeaderValue(was)) fields.headers[name] = was;
      }
    }
    const patch: SubscriptionPatch = { ...fields };
    // A secret set by hand replaces the old one at once, ending a rotation's grace.
    if (fields.secret !== undefined) Object.assign(patch, { previousSecret: null, previousSecretUntil: null });
    if (fields.active === true) patch.disabledReason = null;
    return this.apply(id, patch);
  }

  /**
   * A new signing secret. The previous one keeps signing too for `graceMs` (0: it stops at once), so that each
   * attempt meanwhile carries both signatures and receivers can move to the new secret at their pace.
   * @throws HubError `SB_SUBSCRIPTION_INVALID` for a grace outside 0 to 7 days.
   */
  async rotateSecret(id: string, graceMs: number = DEFAULT_ROTATION_GRACE_MS): Promise<Subscription> {
    if (!Number.isInteger(graceMs) || graceMs < 0 || graceMs > MAX_ROTATION_GRACE_MS) {
      throw new HubError("SB_SUBSCRIPTION_INVALID", `grace_s must be a whole number of seconds from 0 to ${MAX_ROTATION_GRACE_MS / 1000}`);
    }
    await this.writable(id);
    const { secret } = await this.get(id);
    const until = graceMs > 0 ? this.now() + graceMs : null;
    return this.apply(id, { secret: generateSecret(), previousSecret: until === null ? null : secret, previousSecretUntil: until });
  }

  async pause(id: string): Promise<Subscription> {
    await this.writable(id);
    return this.apply(id, { active: false });
  }

  async resume(id: string): Promise<Subscription> {
    await this.writable(id);
    return this.apply(id, { active: true, disabledReason: null, failingSince: null });
  }

  async delete(id: string): Promise<void> {
    await this.writable(id);
    if (!(await this.options.store.subscriptions.delete(id))) throw new HubError("SB_SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`);
    await this.options.dispatcher.refresh(id);
    await this.announce(id);
  }

  /** Deliveries, newest first, a page at a time. */
  async searchDeliveries(search: DeliverySearch): Promise<{ deliveries: Delivery[]; nextCursor: string | null }> {
    const limit = search.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HubError("SB_QUERY_INVALID", "limit must be a whole number from 1 to 1000");
    const deliveries = await this.options.store.deliveries.search({
      subscriptionId: search.subscriptionId,
      eventId: search.eventId,
      status: search.status,
      fromTime: search.fromTime,
      toTime: search.toTime,
      beforeId: search.cursor || undefined,
      limit,
    });
    return { deliveries, nextCursor: deliveries.length === limit ? deliveries[deliveries.length - 1]!.id : null };
  }

  async getDelivery(id: string): Promise<DeliveryDetail> {
    const delivery = await this.options.store.deliveries.get(id);
    if (!delivery) throw new HubError("SB_DELIVERY_NOT_FOUND", `no delivery ${JSON.stringify(id)}`);
    return { delivery, attempts: await this.options.store.deliveries.listAttempts(id) };
  }

  /** The deliveries of one event, each with its attempts. */
  async deliveriesOfEvent(eventId: string): Promise<DeliveryDetail[]> {
    const deliveries = await this.options.store.deliveries.search({ eventId, limit: 1000 });
    return Promise.all(deliveries.map(async (delivery) => ({ delivery, attempts: await this.options.store.deliveries.listAttempts(delivery.id) })));
  }

  /** Sends a dead (or delivered) delivery again, as a new round of its retry schedule. */
  async retryDelivery(id: string): Promise<Delivery> {
    const current = await this.options.store.deliveries.get(id);
    if (!current) throw new HubError("SB_DELIVERY_NOT_FOUND", `no delivery ${JSON.stringify(id)}`);
    if (current.status === "pending" || current.status === "retrying") {
      throw new HubError(
        "SB_DELIVERY_IN_PROGRESS",
        `delivery ${id} is ${current.status}; its next attempt is at ${new Date(current.nextAttemptAt).toISOString()}`,
      );
    }
    const [delivery] = await this.options.store.deliveries.retry({ deliveryId: id }, this.now());
    this.options.dispatcher.enqueue(delivery!.subscriptionId, [delivery!]);
    await this.announce(delivery!.subscriptionId);
    return delivery!;
  }

  /** Retries every dead delivery of a subscription, or those created in `[from, to)`. */
  async retryDead(id: string, range: TimeRange = {}): Promise<{ retried: number }> {
    await this.get(id);
    const deliveries = await this.options.store.deliveries.retry({ subscriptionId: id, fromTime: range.fromTime, toTime: range.toTime }, this.now());
    this.options.dispatcher.enqueue(id, deliveries);
    await this.announce(id);
    return { retried: deliveries.length };
  }

  /** Delivers again the stored events with time in `[from, to)` that the subscription selects. */
  async replay(id: string, range: TimeRange = {}): Promise<{ replayed: number }> {
    const sub = await this.get(id);
    const { fromTime: from, toTime: to } = range;
    const matcher = compileTopicPattern(sub.topic);
    const filter = sub.filter ? compileFilter(sub.filter, { onError: this.options.metrics?.countFilterError }) : undefined;
    const { store, dispatcher } = this.options;
    let after: { time: number; seq: number } | undefined;
    let replayed = 0;
    for (;;) {
      const events = await store.events.search({
        ...(matcher.exact ? { topics: [sub.topic] } : matcher.prefix ? { topicPrefixes: [matcher.prefix] } : {}),
        fromTime: from,
        toTime: to,
        after,
        order: "asc",
        limit: 1000,
      });
      if (events.length === 0) break;
      after = { time: events[events.length - 1]!.time, seq: events[events.length - 1]!.seq };
      const now = this.now();
      const batch: NewDelivery[] = events
        .filter((e) => matcher.matches(e.topic) && (!filter || filter.matches(e)))
        .slice(0, MAX_REPLAY - replayed)
        .map((e) => ({ id: newPrefixedId("dlv", now), subscriptionId: id, eventSeq: e.seq, eventId: e.id, orderingKey: e.key, nextAttemptAt: now }));
      if (batch.length > 0) {
        await store.deliveries.add({ subscriptionId: id, deliveries: batch, now });
        dispatcher.enqueue(
          id,
          batch.map((d) => ({ ...d, status: "pending", attempts: 0, lastStatus: null, lastError: null, createdAt: now, updatedAt: now, deliveredAt: null })),
        );
        replayed += batch.length;
      }
      if (events.length < 1000 || replayed >= MAX_REPLAY) break;
    }
    if (replayed > 0) await this.announce(id);
    return { replayed };
  }

  /**
   * Tells the other nodes sharing the store (PostgreSQL) that the subscription or its open deliveries changed, so
   * that the node running its worker re-reads it.
   */
  private async announce(id: string): Promise<void> {
    await this.options.store.cluster?.announceSubscriptionChange(id);
  }

  /**
   * @throws HubError 409 `SB_SUBSCRIPTION_READ_ONLY` for an in-process handler's subscription (kind "function"): the
   *   code registering it with `hub.handle` owns it. Retry and replay of its deliveries stay open.
   */
  private async writable(id: string): Promise<void> {
    const sub = await this.options.store.subscriptions.get(id);
    if (sub && isFunctionUrl(sub.url)) {
      throw new HubError(
        "SB_SUBSCRIPTION_READ_ONLY",
        `subscription ${id} is the in-process handler ${JSON.stringify(handlerNameOf(sub.url))}; the application that registers it with hub.handle changes it`,
      );
    }
  }

  /** Runs `fn` after every creation started before it has finished. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.creating.then(fn, fn);
    this.creating = run.catch(() => {});
    return run;
  }

  /**
   * @throws HubError 409 `SB_SUBSCRIPTION_LIMIT` when the store holds `maxSubscriptions` already. Checked per node:
   *   nodes sharing a store that create at the same instant may go a few past it.
   */
  private async checkLimit(): Promise<void> {
    const max = this.options.maxSubscriptions;
    if (max === undefined) return;
    const count = (await this.options.store.subscriptions.list()).length;
    if (count >= max) {
      throw new HubError(
        "SB_SUBSCRIPTION_LIMIT",
        `the hub holds ${count} subscriptions and maxSubscriptions (SWITCHBOARD_MAX_SUBSCRIPTIONS) is ${max}; delete one or raise the setting`,
      );
    }
  }

  private async apply(id: string, patch: SubscriptionPatch): Promise<Subscription> {
    const sub = await this.options.store.subscriptions.update(id, patch, this.now());
    if (!sub) throw new HubError("SB_SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`);
    await this.options.dispatcher.refresh(id);
    await this.announce(id);
    return sub;
  }

  private async startCursor(start: SubscriptionStart | undefined): Promise<number> {
    const { store } = this.options;
    if (start === undefined || start === "now") return store.events.lastSeq();
    if (start === "beginning") return 0;
    if (!Number.isFinite(start)) throw new HubError("SB_SUBSCRIPTION_INVALID", `start must be "now", "beginning" or a time, got ${JSON.stringify(start)}`);
    return store.events.seqBefore(start);
  }

  private checkFields(fields: SubscriptionFields): Promise<SubscriptionPatch> {
    if (typeof fields.topic === "string" && this.options.isLiveTopic?.(fields.topic)) {
      return Promise.reject(liveTopicRefusal(fields.topic, "subscription"));
    }
    return checkSubscriptionFields(fields, { allowPrivateTargets: this.options.allowPrivateTargets });
  }
}

/**
 * The refusal of a subscription (webhook, destination, handler) naming a live-only topic. A pattern that also
 * matches live-only topics is accepted: it never gets their events, which are not in the log it reads.
 */
export function liveTopicRefusal(topic: string, what: string): HubError {
  return new HubError(
    "SB_TOPIC_LIVE_ONLY",
    `topic ${JSON.stringify(topic)} is live-only (storage "none"): its events are never stored, so a ${what} would get none; ` +
      `stream it instead, or set the topic's storage to "log"`,
  );
}
