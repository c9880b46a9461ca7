import { HttpClient, type HttpClientOptions, type QueryValue } from "./http.js";
import { EventStream, type StreamOptions } from "./stream.js";
import type {
  ApiKey,
  ApiKeyCreateBody,
  BatchEvent,
  Delivery,
  DeliveryDetail,
  DeliverySearch,
  EventDetail,
  EventOut,
  EventSearch,
  ImportResult,
  Page,
  PublishOptions,
  PublishResult,
  Subscription,
  SubscriptionCreateBody,
  SubscriptionUpdateBody,
  TestSend,
  TimeArg,
  TimeRange,
  Topic,
  TopicCreateBody,
  TopicUpdateBody,
} from "./types.js";

/** Options of {@link Switchboard}: the hub's url, the token, and the retry bounds. */
export type SwitchboardOptions = HttpClientOptions;

/** Options of {@link EventsApi.import}. */
export interface ImportOptions {
  /** Events per request (default 500). */
  batchSize?: number;
  /** Told after each request: the events sent so far, and the counts. */
  onProgress?: (progress: { sent: number } & ImportResult) => void;
  signal?: AbortSignal;
}

const id = (value: string) => encodeURIComponent(value);
const time = (value: TimeArg | undefined) => (value instanceof Date ? value.toISOString() : value);

/**
 * A client of a Switchboard hub: publish, search, stream, and manage topics, subscriptions, deliveries and keys.
 * @example
 * const sb = new Switchboard({ url: "http://127.0.0.1:8080", token: process.env.SWITCHBOARD_TOKEN });
 * await sb.publish("orders.created", { id: 1 }, { key: "o-1" });
 * for await (const e of sb.stream({ topics: ["orders.*"] })) console.log(e.id, e.data);
 */
export class Switchboard {
  readonly http: HttpClient;
  readonly events: EventsApi;
  readonly topics: TopicsApi;
  readonly subscriptions: SubscriptionsApi;
  readonly deliveries: DeliveriesApi;
  readonly keys: KeysApi;

  constructor(options: SwitchboardOptions) {
    this.http = new HttpClient(options);
    this.events = new EventsApi(this.http);
    this.topics = new TopicsApi(this.http);
    this.subscriptions = new SubscriptionsApi(this.http);
    this.deliveries = new DeliveriesApi(this.http, this.subscriptions);
    this.keys = new KeysApi(this.http);
  }

  /**
   * Publishes one event; resolves after the hub committed it, with its `{ id, seq, topic }` (`seq: null, stored: false`
   * on a live-only topic: sent to the open streams, not stored).
   */
  publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const { idempotencyKey, signal, time: at, ...envelope } = options;
    return this.http.request<PublishResult>("POST", "/events", {
      body: { ...envelope, topic, time: time(at), data },
      headers: idempotencyKey === undefined ? undefined : { "idempotency-key": idempotencyKey },
      signal,
    });
  }

  /** Publishes several events in one request, all or nothing; a result per event, in order. */
  publishBatch(events: readonly BatchEvent[], options: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<PublishResult[]> {
    return this.http.request<PublishResult[]>("POST", "/events", {
      body: events.map((e) => ({ ...e, time: time(e.time) })),
      headers: options.idempotencyKey === undefined ? undefined : { "idempotency-key": options.idempotencyKey },
      signal: options.signal,
    });
  }

  /**
   * A live stream of events (envelopes) that reconnects by itself and resumes after the last event it handed out.
   * @example
   * for await (const e of sb.stream({ topics: ["orders.*"], filter: "data.total > 100" })) handle(e);
   */
  stream(options: StreamOptions = {}): EventStream {
    return new EventStream(this.http, options);
  }
}

/** Events: search, read, import. */
export class EventsApi {
  constructor(private readonly http: HttpClient) {}

  /** One page of a search. */
  page(search: EventSearch = {}): Promise<Page<EventOut>> {
    const { data, signal, from, to, ...params } = search;
    const query: Record<string, QueryValue> = { ...data, ...params, from: time(from), to: time(to) };
    return this.http.request<Page<EventOut>>("GET", "/events", { query, signal });
  }

  /**
   * Every event the search selects, reading page after page (cursor paging) as the loop asks for more.
   * @example
   * for await (const e of sb.events.search({ topic: "orders.*", from: "2025-01-01", filter: "data.total > 100" })) …
   */
  async *search(search: EventSearch = {}): AsyncGenerator<EventOut, void, undefined> {
    let cursor = search.cursor;
    for (;;) {
      const page = await this.page({ ...search, cursor });
      yield* page.data;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }

  /** One event with its deliveries; throws `SB_EVENT_NOT_FOUND`. */
  get(eventId: string, options: { signal?: AbortSignal } = {}): Promise<EventDetail> {
    return this.http.request<EventDetail>("GET", `/events/${id(eventId)}`, options);
  }

  /**
   * Stores events with their own ids (an export's envelopes), skipping those whose id is stored already, so a
   * second import of the same file stores nothing. Needs the admin scope.
   */
  async import(events: Iterable<EventOut | BatchEvent> | AsyncIterable<EventOut | BatchEvent>, options: ImportOptions = {}): Promise<ImportResult> {
    const size = options.batchSize ?? 500;
    const total: ImportResult = { imported: 0, skipped: 0 };
    let sent = 0;
    let batch: unknown[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const reply = await this.http.request<ImportResult>("POST", "/events/import", { body: batch, signal: options.signal });
      sent += batch.length;
      batch = [];
      total.imported += reply.imported;
      total.skipped += reply.skipped;
      options.onProgress?.({ sent, ...total });
    };
    for await (const event of events) {
      batch.push(event);
      if (batch.length >= size) await flush();
    }
    await flush();
    return total;
  }
}

/** Topics (admin). */
export class TopicsApi {
  constructor(private readonly http: HttpClient) {}

  create(topic: TopicCreateBody): Promise<Topic> {
    return this.http.request<Topic>("POST", "/topics", { body: topic });
  }

  async list(): Promise<Topic[]> {
    return (await this.http.request<{ data: Topic[] }>("GET", "/topics")).data;
  }

  get(name: string): Promise<Topic> {
    return this.http.request<Topic>("GET", `/topics/${id(name)}`);
  }

  update(name: string, changes: TopicUpdateBody): Promise<Topic> {
    return this.http.request<Topic>("PATCH", `/topics/${id(name)}`, { body: changes });
  }

  /** Deletes the topic and its events. */
  async delete(name: string): Promise<void> {
    await this.http.request<void>("DELETE", `/topics/${id(name)}`);
  }
}

/** Webhook (and broker) subscriptions (admin). */
export class SubscriptionsApi {
  constructor(private readonly http: HttpClient) {}

  /** Creates one; the reply holds its signing `secret`, shown in full this once. */
  create(subscription: SubscriptionCreateBody): Promise<Subscription> {
    return this.http.request<Subscription>("POST", "/subscriptions", { body: subscription });
  }

  async list(): Promise<Subscription[]> {
    return (await this.http.request<{ data: Subscription[] }>("GET", "/subscriptions")).data;
  }

  get(subscriptionId: string): Promise<Subscription> {
    return this.http.request<Subscription>("GET", `/subscriptions/${id(subscriptionId)}`);
  }

  /** The signing secret. */
  async secret(subscriptionId: string): Promise<string> {
    return (await this.http.request<{ secret: string }>("GET", `/subscriptions/${id(subscriptionId)}/secret`)).secret;
  }

  update(subscriptionId: string, changes: SubscriptionUpdateBody): Promise<Subscription> {
    return this.http.request<Subscription>("PATCH", `/subscriptions/${id(subscriptionId)}`, { body: changes });
  }

  async delete(subscriptionId: string): Promise<void> {
    await this.http.request<void>("DELETE", `/subscriptions/${id(subscriptionId)}`);
  }

  pause(subscriptionId: string): Promise<Subscription> {
    return this.http.request<Subscription>("POST", `/subscriptions/${id(subscriptionId)}/pause`);
  }

  resume(subscriptionId: string): Promise<Subscription> {
    return this.http.request<Subscription>("POST", `/subscriptions/${id(subscriptionId)}/resume`);
  }

  /**
   * A new signing secret; the previous one keeps signing too for `graceSeconds` (default a day, 0 to stop it at once),
   * so that receivers can switch at their pace.
   */
  rotateSecret(subscriptionId: string, options: { graceSeconds?: number } = {}): Promise<{ secret: string; previous_secret_expires_at: string | null }> {
    return this.http.request("POST", `/subscriptions/${id(subscriptionId)}/secret/rotate`, {
      body: options.graceSeconds === undefined ? {} : { grace_s: options.graceSeconds },
    });
  }

  /** Sends one `switchboard.test` event to the subscription's destination now and answers what came of it (nothing is stored). */
  test(subscriptionId: string): Promise<TestSend> {
    return this.http.request<TestSend>("POST", `/subscriptions/${id(subscriptionId)}/test`, { body: {} });
  }

  /** Sends the subscription's dead deliveries (created in the range) again. */
  retryDead(subscriptionId: string, range: TimeRange = {}): Promise<{ retried: number }> {
    return this.http.request("POST", `/subscriptions/${id(subscriptionId)}/retry`, { body: { from: time(range.from), to: time(range.to) } });
  }

  /** Delivers again the stored events with time in the range that the subscription selects. */
  replay(subscriptionId: string, range: TimeRange = {}): Promise<{ replayed: number }> {
    return this.http.request("POST", `/subscriptions/${id(subscriptionId)}/replay`, { body: { from: time(range.from), to: time(range.to) } });
  }
}

/** Deliveries: every attempt to send an event to a subscription (admin). */
export class DeliveriesApi {
  constructor(
    private readonly http: HttpClient,
    private readonly subscriptions: SubscriptionsApi,
  ) {}

  /** One page, newest first. */
  page(search: DeliverySearch = {}): Promise<Page<Delivery>> {
    const { signal, from, to, ...params } = search;
    return this.http.request<Page<Delivery>>("GET", "/deliveries", { query: { ...params, from: time(from), to: time(to) }, signal });
  }

  /** Every delivery the search selects, newest first, page after page. */
  async *list(search: DeliverySearch = {}): AsyncGenerator<Delivery, void, undefined> {
    let cursor = search.cursor;
    for (;;) {
      const page = await this.page({ ...search, cursor });
      yield* page.data;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }

  /** One delivery with its attempts. */
  get(deliveryId: string): Promise<DeliveryDetail> {
    return this.http.request<DeliveryDetail>("GET", `/deliveries/${id(deliveryId)}`);
  }

  /** Sends one delivery again now (a dead one, or one waiting for its next retry). */
  retry(deliveryId: string): Promise<Delivery> {
    return this.http.request<Delivery>("POST", `/deliveries/${id(deliveryId)}/retry`);
  }

  /** {@link SubscriptionsApi.replay}: the subscription's events in the range, delivered again. */
  replay(subscriptionId: string, range: TimeRange = {}): Promise<{ replayed: number }> {
    return this.subscriptions.replay(subscriptionId, range);
  }
}

/** API keys (admin). */
export class KeysApi {
  constructor(private readonly http: HttpClient) {}

  /** Creates a key; the reply holds its `token`, shown this once. */
  create(key: ApiKeyCreateBody): Promise<ApiKey> {
    return this.http.request<ApiKey>("POST", "/keys", { body: key });
  }

  async list(): Promise<ApiKey[]> {
    return (await this.http.request<{ data: ApiKey[] }>("GET", "/keys")).data;
  }

  /** Revokes a key: the hub refuses it from its next request. */
  async revoke(keyId: string): Promise<void> {
    await this.http.request<void>("DELETE", `/keys/${id(keyId)}`);
  }
}
