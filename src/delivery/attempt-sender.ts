import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { HubMetrics } from "../metrics.js";
import type { Delivery, StoredEvent, Subscription } from "../store/store.js";
import { contextFromTraceparent, hubTracer } from "../telemetry.js";
import type { DeliveryStore } from "./delivery-store.js";
import type { DeliveryOutcome, Destination } from "./destination.js";
import { destinationKindOf, maskDestinationUrl } from "./destinations/registry.js";
import { EVENT_GONE } from "./outcome-rules.js";

/** Options of {@link AttemptSender}. */
export interface AttemptSenderOptions {
  store: DeliveryStore;
  destination: Destination;
  log: Logger;
  metrics?: HubMetrics | undefined;
  /** Publishes an operational event (`switchboard.delivery.dead`, `switchboard.subscription.disabled`). */
  publishSystemEvent: (topic: string, data: Record<string, unknown>) => Promise<void>;
  /** Called first when a subscription is disabled: its worker on this node stops. */
  onDisabled: (subscriptionId: string) => void;
}

/**
 * Sends attempts through the destination and carries out what their outcome decides beyond the delivery itself:
 * metrics, `switchboard.delivery.dead`, the subscription's health and disabling it. Shared by the subscription
 * workers and the retry sweeper.
 */
export class AttemptSender {
  private readonly options: AttemptSenderOptions;

  constructor(options: AttemptSenderOptions) {
    this.options = options;
  }

  /**
   * Attempt number `attempt` (1 for the first of a round) of a delivery: sent, or failed at once when its event is no
   * longer stored; counted in the metrics.
   */
  async attempt(sub: Subscription, deliveryId: string, event: StoredEvent | undefined, attemptedAt: number, attempt: number): Promise<DeliveryOutcome> {
    const { destination, metrics } = this.options;
    const kind = destinationKindOf(sub.url);
    const span = startAttemptSpan(kind, sub, deliveryId, event);
    let outcome: DeliveryOutcome;
    if (event) {
      // The attempt span is active while the destination works: a function handler's own spans, and the outgoing
      // `traceparent`, continue it.
      outcome = await context.with(trace.setSpan(context.active(), span), () =>
        destination.send({ subscription: sub, deliveryId, event, attemptedAt, attempt }),
      );
    } else outcome = EVENT_GONE;
    endAttemptSpan(span, outcome);
    const result = outcome.ok ? "delivered" : "failed";
    metrics?.deliveryAttempts.inc({ outcome: result });
    metrics?.deliveryLatency.observe(outcome.latencyMs / 1000);
    const attributes = { "switchboard.destination.kind": kind, "switchboard.delivery.outcome": result };
    metrics?.otel.deliveryAttempts.add(1, attributes);
    metrics?.otel.attemptDuration.record(outcome.latencyMs / 1000, attributes);
    return outcome;
  }

  /** Whether this node can deliver the subscription (see {@link Destination.serves}). */
  serves(sub: Subscription): boolean {
    return this.options.destination.serves?.(sub) ?? true;
  }

  /** Counts a dead delivery and publishes `switchboard.delivery.dead`, except about system events (which would feed themselves). */
  dead(sub: Subscription, delivery: Delivery, eventTopic: string | undefined): void {
    const { metrics, log } = this.options;
    metrics?.deliveriesDead.inc();
    // Judged by the event's topic too, since a pattern such as `*.delivery.*` selects system events.
    if (eventTopic?.startsWith("switchboard.") || sub.topic.startsWith("switchboard.")) return;
    void this.options
      .publishSystemEvent("switchboard.delivery.dead", {
        delivery_id: delivery.id,
        subscription_id: sub.id,
        event_id: delivery.eventId,
        url: maskDestinationUrl(sub.url),
        attempts: delivery.attempts,
        last_status: delivery.lastStatus,
        last_error: delivery.lastError,
      })
      .catch((error: unknown) => log.error({ err: error, deliveryId: delivery.id }, "announcing a dead delivery failed"));
  }

  /** Writes since when the subscription's attempts have all failed (null: healthy again). */
  setFailingSince(subscriptionId: string, failingSince: number | null, now: number): Promise<void> {
    return this.options.store.subscriptions.update(subscriptionId, { failingSince }, now).then(() => undefined);
  }

  /** {@link setFailingSince} in the background, failures logged. */
  setFailingSinceLogged(subscriptionId: string, failingSince: number | null, now: number): void {
    void this.setFailingSince(subscriptionId, failingSince, now).catch((error: unknown) => {
      this.options.log.error({ err: error, subscriptionId }, "updating subscription health failed");
    });
  }

  /** Pauses a subscription the hub gave up on and tells every node. */
  async disable(sub: Subscription, reason: string, now: number): Promise<void> {
    const { store, log } = this.options;
    this.options.onDisabled(sub.id);
    log.warn({ subscriptionId: sub.id, reason }, "subscription disabled");
    await store.subscriptions.update(sub.id, { active: false, disabledReason: reason }, now);
    await store.cluster?.announceSubscriptionChange(sub.id);
    await this.options.publishSystemEvent("switchboard.subscription.disabled", { subscription_id: sub.id, url: maskDestinationUrl(sub.url), reason });
  }

  /** {@link disable} in the background, failures logged. */
  disableLogged(sub: Subscription, reason: string, now: number): void {
    const id = sub.id;
    void this.disable(sub, reason, now).catch((error: unknown) =>
      this.options.log.error({ err: error, subscriptionId: id }, "disabling a subscription failed"),
    );
  }
}

/**
 * The span of one delivery attempt, `switchboard.deliver.<kind>` (webhook, nats, amqp, redis, mqtt, function…): a child
 * of the event's trace context (its `traceparent`, the publish span's), or a root when it has none.
 */
function startAttemptSpan(kind: string, sub: Subscription, deliveryId: string, event: StoredEvent | undefined): Span {
  // `attributes` may be missing on events built by hand (tests, old callers): tracing must never fail an attempt.
  const parent = contextFromTraceparent((event?.attributes as StoredEvent["attributes"] | undefined)?.traceparent) ?? ROOT_CONTEXT;
  return hubTracer().startSpan(
    `switchboard.deliver.${kind}`,
    {
      kind: kind === "function" ? SpanKind.INTERNAL : SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "switchboard",
        "messaging.operation.type": "process",
        "messaging.destination.name": sub.topic,
        "switchboard.destination.kind": kind,
        "switchboard.subscription.id": sub.id,
        "switchboard.delivery.id": deliveryId,
        ...(event ? { "messaging.message.id": event.id, "switchboard.event.seq": event.seq } : {}),
      },
    },
    parent,
  );
}

/** Records the outcome on the attempt span and ends it. */
function endAttemptSpan(span: Span, outcome: DeliveryOutcome): void {
  span.setAttribute("switchboard.delivery.outcome", outcome.ok ? "delivered" : "failed");
  if (outcome.status !== null) span.setAttribute("http.response.status_code", outcome.status);
  if (!outcome.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error ?? `status ${outcome.status}` });
  span.end();
}
