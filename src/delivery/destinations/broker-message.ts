import type { OutgoingDelivery } from "../destination.js";
import { headerValue, traceparentFor } from "../webhooks/webhook-headers.js";
import { envelopeJson } from "../../wire.js";
import { formatTime } from "../../time.js";

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
  headers["ce-specversion"] = "1.0";
  headers["ce-id"] = headerValue(event.id);
  headers["ce-source"] = headerValue(event.source ?? `/switchboard/topics/${event.topic}`);
  headers["ce-type"] = headerValue(event.type ?? event.topic);
  headers["ce-time"] = formatTime(event.time);
  if (event.subject !== null) headers["ce-subject"] = headerValue(event.subject);
  const parent = event.attributes.traceparent;
  if (parent !== undefined) headers["traceparent"] = traceparentFor(parent);
  return { body, headers };
}
