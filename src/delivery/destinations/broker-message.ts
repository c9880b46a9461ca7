import type { OutgoingDelivery } from "../destination.js";
import { headerValue, setCloudEventHeaders, traceparentFor } from "../webhooks/webhook-headers.js";
import { envelopeJson } from "../../wire.js";

/** A message for a broker: its body text and headers (or properties), the same for every broker kind. */
export interface BrokerMessage {
  body: string;
  headers: Record<string, string>;
}

/** Header names the hub sets itself; an event attribute of the same name does not replace them. */
const OWN = new Set(["content-type", "webhook-id", "traceparent", "ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject"]);

/**
 * The body and headers of one delivery for a broker: the body per the subscription's `body` (`data`, or the
 * envelope), the subscription's own headers, `webhook-id` (the delivery id), the CloudEvents attributes as `ce-*`
 * (binary mode), each event attribute as `ce-<name>` (names percent-encoded where a header name cannot carry
 * them), and `traceparent` continuing the event's trace when it has one. Shared by the broker drivers.
 */
export function brokerMessage({ subscription: sub, deliveryId, event }: OutgoingDelivery): BrokerMessage {
  const body = sub.body === "envelope" ? envelopeJson(event) : event.dataJson;
  const headers: Record<string, string> = { ...sub.headers };
  for (const [name, value] of Object.entries(event.attributes)) {
    if (name === "traceparent") continue;
    const header = `ce-${encodeURIComponent(name.toLowerCase())}`;
    if (!OWN.has(header)) headers[header] = headerValue(value);
  }
  headers["content-type"] = "application/json";
  headers["webhook-id"] = deliveryId;
  setCloudEventHeaders(headers, event);
  const parent = event.attributes.traceparent;
  if (parent !== undefined) headers["traceparent"] = traceparentFor(parent);
  return { body, headers };
}
