import { HubError } from "../errors.js";
import { newPrefixedId } from "../ids.js";
import type { StoredEvent, Subscription } from "../store/types.js";
import { topicNameProblem } from "../routing/topic-pattern.js";
import type { DeliveryOutcome, Destination } from "./destination.js";
import { isFunctionUrl } from "./handlers/handler-options.js";

/** The event type of a test send. */
export const TEST_EVENT_TYPE = "switchboard.test";

/** What a test send came to: the attempt's outcome, and the ids the receiver saw. */
export interface TestSendResult {
  eventId: string;
  deliveryId: string;
  outcome: DeliveryOutcome;
}

/**
 * Sends one synthetic event to a subscription's destination now, as a real attempt would be sent (body, headers,
 * signature, broker properties), and answers what came of it. Nothing is stored: no event in the log, no delivery, no
 * attempt, and the subscription's health is untouched. The event's topic is the subscription's when that is a name,
 * else `switchboard.test`; its type is `switchboard.test`.
 * @throws HubError `SB_SUBSCRIPTION_READ_ONLY` for an in-process handler (its application runs it; publish instead).
 */
export async function sendTestEvent(destination: Destination, sub: Subscription, now: number): Promise<TestSendResult> {
  if (isFunctionUrl(sub.url)) {
    throw new HubError("SB_SUBSCRIPTION_READ_ONLY", `subscription ${sub.id} is an in-process handler: publish an event to its topic to run it`);
  }
  const data = { test: true, subscription_id: sub.id };
  const event: StoredEvent = {
    id: newPrefixedId("evt", now),
    clientId: false,
    seq: 0,
    topic: topicNameProblem(sub.topic) === undefined ? sub.topic : TEST_EVENT_TYPE,
    type: TEST_EVENT_TYPE,
    source: "switchboard",
    subject: null,
    time: now,
    key: null,
    data,
    dataJson: JSON.stringify(data),
    attributes: {},
    receivedAt: now,
  };
  const deliveryId = newPrefixedId("dlv", now);
  const outcome = await destination.send({ subscription: sub, deliveryId, event, attemptedAt: now, attempt: 1 });
  return { eventId: event.id, deliveryId, outcome };
}
