import type { Destination, DeliveryOutcome, OutgoingDelivery } from "../destination.js";
import { envelopeJson } from "../../wire.js";
import type { WebhookClient } from "./send-webhook.js";
import { webhookHeaders } from "./webhook-headers.js";

/** Options of {@link webhookDestination}. */
export interface WebhookDestinationOptions {
  client: WebhookClient;
  userAgent: string;
}

/** The HTTP webhook {@link Destination}: the body (data or envelope), signed headers, one POST. */
export function webhookDestination({ client, userAgent }: WebhookDestinationOptions): Destination {
  return {
    send({ subscription: sub, deliveryId, event, attemptedAt }: OutgoingDelivery): Promise<DeliveryOutcome> {
      const body = sub.body === "envelope" ? envelopeJson(event) : event.dataJson;
      const headers = webhookHeaders(sub, deliveryId, event, body, attemptedAt, userAgent);
      return client.send({ url: sub.url, body, headers, timeoutMs: sub.timeoutMs });
    },
  };
}
