import type { StoredEvent, Subscription } from "../store/store.js";
import type { AttemptResult } from "./webhooks/send-webhook.js";

/** One attempt to hand over: the delivery's id (the same on every retry), its event and subscription. */
export interface OutgoingDelivery {
  subscription: Subscription;
  deliveryId: string;
  event: StoredEvent;
  /** When the attempt starts (ms since the epoch): signed into the webhook timestamp. */
  attemptedAt: number;
  /** Which attempt of the delivery's current round this is: 1 for the first. */
  attempt: number;
}

/**
 * What one attempt came to, whatever the destination: `ok`, the receiver's `status` (null without one),
 * `latencyMs`, a `responseExcerpt`, an `error` when nothing answered, `retryAfterMs` when the receiver asked for a
 * pause, and `gone` when it asked never to be called again (HTTP 410).
 */
export type DeliveryOutcome = AttemptResult;

/**
 * Where deliveries go. HTTP webhooks are one destination (see `webhooks/webhook-destination.ts`); the hub's is the
 * `DestinationRouter` of `destinations/`, which picks the kind (webhook, NATS JetStream…) by the url scheme. The
 * worker and the retry sweeper call only this.
 */
export interface Destination {
  /** Sends one attempt; never throws, every failure is an outcome. */
  send(delivery: OutgoingDelivery): Promise<DeliveryOutcome>;
  /** A subscription's worker starts on this node: a destination may open (or share) its connection now. */
  open?(subscription: Subscription): void;
  /**
   * Whether this node can deliver the subscription at all; false leaves it (its lease, its retries) to nodes that
   * can, such as an in-process handler registered on another node. Absent: every subscription.
   */
  serves?(subscription: Subscription): boolean;
  /** This node stopped delivering a subscription (deleted, paused, disabled, its lease moved): resources held for it may go. */
  release?(subscriptionId: string): void;
}
