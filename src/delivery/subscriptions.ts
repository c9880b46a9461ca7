import { HubError } from "../errors.js";
import { newPrefixedId } from "../ids.js";
import type { HubMetrics } from "../metrics.js";
import { compileFilter } from "../routing/filter.js";
import { compileTopicPattern, topicPatternProblem } from "../routing/topic-pattern.js";
import type { Attempt, Delivery, DeliveryStatus, NewDelivery, Store, Subscription, SubscriptionPatch } from "../store/store.js";
import { parseTime } from "../time.js";
import type { Dispatcher } from "./dispatcher.js";
import { DEFAULT_RETRY_SCHEDULE_S, parseRetrySchedule } from "./webhooks/retry-policy.js";
import { generateSecret, isValidSecret } from "./webhooks/sign.js";
import { isCredentialHeader, maskHeaderValue, parseHeaders } from "./webhooks/subscription-headers.js";
import { validateDestinationUrl } from "./destinations/index.js";

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
}

/** A delivery with its attempts. */
export interface DeliveryDetail {
  delivery: Delivery;
  attempts: Attempt[];
}

const FIELDS = new Set([
  "topic",
  "url",
  "filter",
  "headers",
  "secret",
  "active",
  "start",
  "ordering",
  "retry",
  "timeout_ms",
  "max_in_flight",
  "rate_limit",
  "body",
]);
const UPDATABLE = new Set([...FIELDS].filter((f) => f !== "start"));
const STATUSES = new Set<DeliveryStatus>(["pending", "delivered", "retrying", "dead"]);
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
   * Creates a subscription from its wire form (`topic`, `url`, `filter`, …).
   * @throws HubError 400 naming the field at fault.
   */
  async create(input: unknown): Promise<Subscription> {
    const o = object(input);
    for (const k of Object.keys(o)) if (!FIELDS.has(k)) throw invalid(`unknown field ${JSON.stringify(k)}; known: ${[...FIELDS].join(", ")}`);
    if (o.topic === undefined) throw invalid("topic is required");
    if (o.url === undefined) throw invalid("url is required");
    const fields = await this.parseFields(o);
    const now = this.now();
    const sub: Subscription = {
      id: newPrefixedId("sub", now),
      topic: fields.topic!,
      url: fields.url!,
      filter: fields.filter ?? null,
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
      cursorSeq: await this.startCursor(o.start),
      failingSince: null,
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
   * Postoffice's `POST /api/publishers {active, topic, target, type, from_now}`.
   * @throws HubError 409 when a subscription of that topic and target exists; 400 when invalid.
   */
  async createPublisher(input: unknown): Promise<Subscription> {
    const o = object(input);
    const known = new Set(["active", "topic", "target", "type", "from_now"]);
    for (const k of Object.keys(o)) if (!known.has(k)) throw invalid(`unknown field ${JSON.stringify(k)}; publishers have ${[...known].join(", ")}`);
    for (const required of ["active", "topic", "target", "type"]) if (o[required] === undefined) throw invalid(`${required} is required`);
    if (o.type !== "http") {
      throw invalid(`type ${JSON.stringify(o.type)} is not supported; supported publisher types: "http"`);
    }
    if (typeof o.target !== "string" || typeof o.topic !== "string") throw invalid("topic and target must be strings");
    if (o.from_now !== undefined && typeof o.from_now !== "boolean") throw invalid("from_now must be true or false");
    if (await this.options.store.subscriptions.find(o.topic, o.target)) {
      throw new HubError("SB_SUBSCRIPTION_EXISTS", `a publisher for topic ${JSON.stringify(o.topic)} and target ${JSON.stringify(o.target)} already exists`);
    }
    return this.create({ topic: o.topic, url: o.target, active: o.active, start: o.from_now === false ? "beginning" : "now" });
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
   * keeps the current value, so that a client that PUTs back what it read does not overwrite a credential.
   */
  async update(id: string, input: unknown): Promise<Subscription> {
    const o = object(input);
    for (const k of Object.keys(o)) if (!UPDATABLE.has(k)) throw invalid(`field ${JSON.stringify(k)} cannot be changed; changeable: ${[...UPDATABLE].join(", ")}`);
    const fields = await this.parseFields(o);
    if (fields.headers) {
      const current = (await this.get(id)).headers;
      for (const [name, value] of Object.entries(fields.headers)) {
        const was = current[name];
        if (was !== undefined && isCredentialHeader(name, was) && value === maskHeaderValue(was)) fields.headers[name] = was;
      }
    }
    const patch: SubscriptionPatch = { ...fields };
    if (fields.active === true) patch.disabledReason = null;
    return this.apply(id, patch);
  }

  pause(id: string): Promise<Subscription> {
    return this.apply(id, { active: false });
  }

  resume(id: string): Promise<Subscription> {
    return this.apply(id, { active: true, disabledReason: null, failingSince: null });
  }

  async delete(id: string): Promise<void> {
    if (!(await this.options.store.subscriptions.delete(id))) throw new HubError("SB_SUBSCRIPTION_NOT_FOUND", `no subscription ${JSON.stringify(id)}`);
    await this.options.dispatcher.refresh(id);
    await this.announce(id);
  }

  /** `GET /api/deliveries` parameters: subscription, event, status, from, to, limit, cursor. */
  async searchDeliveries(params: Record<string, string | undefined>): Promise<{ deliveries: Delivery[]; nextCursor: string | null }> {
    const limit = params.limit === undefined ? 100 : Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HubError("SB_QUERY_INVALID", "limit must be a whole number from 1 to 1000");
    if (params.status !== undefined && !STATUSES.has(params.status as DeliveryStatus)) {
      throw new HubError("SB_QUERY_INVALID", `status must be one of ${[...STATUSES].join(", ")}`);
    }
    const deliveries = await this.options.store.deliveries.search({
      subscriptionId: params.subscription,
      eventId: params.event,
      status: params.status as DeliveryStatus | undefined,
      fromTime: params.from === undefined ? undefined : timeParam("from", params.from),
      toTime: params.to === undefined ? undefined : timeParam("to", params.to),
      beforeId: params.cursor || undefined,
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
      throw new HubError("SB_DELIVERY_IN_PROGRESS", `delivery ${id} is ${current.status}; its next attempt is at ${new Date(current.nextAttemptAt).toISOString()}`);
    }
    const [delivery] = await this.options.store.deliveries.retry({ deliveryId: id }, this.now());
    this.options.dispatcher.enqueue(delivery!.subscriptionId, [delivery!]);
    await this.announce(delivery!.subscriptionId);
    return delivery!;
  }

  /** Retries every dead delivery of a subscription, or those created in `[from, to)`. */
  async retryDead(id: string, input: unknown): Promise<{ retried: number }> {
    await this.get(id);
    const o = input === undefined || input === null ? {} : object(input);
    const deliveries = await this.options.store.deliveries.retry(
      {
        subscriptionId: id,
        fromTime: o.from === undefined ? undefined : timeParam("from", o.from),
        toTime: o.to === undefined ? undefined : timeParam("to", o.to),
      },
      this.now(),
    );
    this.options.dispatcher.enqueue(id, deliveries);
    await this.announce(id);
    return { retried: deliveries.length };
  }

  /** Delivers again the stored events with time in `[from, to)` that the subscription selects. */
  async replay(id: string, input: unknown): Promise<{ replayed: number }> {
    const sub = await this.get(id);
    const o = input === undefined || input === null ? {} : object(input);
    const from = o.from === undefined ? undefined : timeParam("from", o.from);
    const to = o.to === undefined ? undefined : timeParam("to", o.to);
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

  private async startCursor(start: unknown): Promise<number> {
    const { store } = this.options;
    if (start === undefined || start === "now") return store.events.lastSeq();
    if (start === "beginning") return 0;
    const t = typeof start === "string" || typeof start === "number" ? parseTime(start) : undefined;
    if (t === undefined) throw invalid(`start must be "now", "beginning" or a time, got ${JSON.stringify(start)}`);
    return store.events.seqBefore(t);
  }

  private async parseFields(o: Record<string, unknown>): Promise<SubscriptionPatch> {
    const f: SubscriptionPatch = {};
    if (o.topic !== undefined) {
      if (typeof o.topic !== "string") throw invalid("topic must be a string");
      const problem = topicPatternProblem(o.topic);
      if (problem) throw invalid(`topic: ${problem}`);
      f.topic = o.topic;
    }
    if (o.url !== undefined) {
      if (typeof o.url !== "string") throw invalid("url must be a string");
      f.url = await validateDestinationUrl(o.url, { allowPrivate: this.options.allowPrivateTargets });
    }
    if (o.filter !== undefined && o.filter !== null && o.filter !== "") {
      if (typeof o.filter !== "string") throw invalid("filter must be a string");
      compileFilter(o.filter); // throws SB_FILTER_INVALID with the position
      f.filter = o.filter;
    } else if (o.filter !== undefined) f.filter = null;
    if (o.headers !== undefined) f.headers = parseHeaders(o.headers);
    if (o.secret !== undefined) {
      if (typeof o.secret !== "string" || !isValidSecret(o.secret)) throw invalid("secret must look like whsec_ followed by base64 of 24-64 bytes");
      f.secret = o.secret;
    }
    if (o.active !== undefined) {
      if (typeof o.active !== "boolean") throw invalid("active must be true or false");
      f.active = o.active;
    }
    if (o.ordering !== undefined) {
      if (o.ordering !== "none" && o.ordering !== "key") throw invalid('ordering must be "none" or "key"');
      f.ordering = o.ordering;
    }
    if (o.retry !== undefined) f.retrySchedule = parseRetrySchedule(o.retry);
    if (o.timeout_ms !== undefined) f.timeoutMs = wholeNumber(o.timeout_ms, "timeout_ms", 100, 60_000);
    if (o.max_in_flight !== undefined) f.maxInFlight = wholeNumber(o.max_in_flight, "max_in_flight", 1, 1000);
    if (o.rate_limit !== undefined) {
      if (o.rate_limit === null) f.rateLimit = null;
      else if (typeof o.rate_limit !== "number" || !(o.rate_limit > 0) || o.rate_limit > 100_000) {
        throw invalid("rate_limit must be a number of deliveries per second above 0 and at most 100000, or null");
      } else f.rateLimit = o.rate_limit;
    }
    if (o.body !== undefined) {
      if (o.body !== "data" && o.body !== "envelope") throw invalid('body must be "data" or "envelope"');
      f.body = o.body;
    }
    return f;
  }
}

function wholeNumber(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function timeParam(name: string, value: unknown): number {
  const t = typeof value === "string" || typeof value === "number" ? parseTime(value) : undefined;
  if (t === undefined) throw new HubError("SB_QUERY_INVALID_TIME", `invalid ${name}: unrecognized time format: ${JSON.stringify(value)}`);
  return t;
}

function object(value: unknown, message = "the body must be a JSON object"): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(message);
  return value as Record<string, unknown>;
}

function invalid(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}
