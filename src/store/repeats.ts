import { HubError } from "../errors.js";
import type { AppendResult, NewEvent } from "./store.js";

/**
 * When a repeat is a replay. Client-given event ids and Idempotency-Keys would otherwise live in one global space,
 * where a publisher limited to `orders.*` could learn of another topic's event by guessing its id, or claim an id
 * first so that a later publish by someone else is answered "replayed" and silently never stored.
 *
 * So with auth on (the request names its `publisher`, the credential id):
 * - a client-given id repeats an earlier event only if the same credential stored it, to the same topic, with the
 *   same `source` (CloudEvents defines an id as unique per source). Any other owner of the id gets
 *   `409 SB_EVENT_ID_CONFLICT`, which says nothing of the stored event;
 * - Idempotency-Keys are kept per credential: another credential's key with the same text is a different key.
 *   The same credential reusing a key for events to other topics gets `409 SB_IDEMPOTENCY_KEY_CONFLICT`.
 * With auth off (`publisher` undefined) there is one owner, and a repeat replays as it always has.
 */

/** The stored event a client-given id already names, as much as deciding a repeat needs. */
export interface PriorEvent {
  seq: number;
  topic: string;
  source: string | null;
  publisher: string | null;
}

/**
 * Throws unless `event` (with a client-given id) may be answered with `prior`'s result.
 * @throws HubError SB_EVENT_ID_CONFLICT, naming only the id the client sent.
 */
export function checkRepeatedId(prior: PriorEvent, event: NewEvent, publisher: string | undefined): void {
  if (publisher === undefined) return;
  if (prior.publisher === publisher && prior.topic === event.topic && prior.source === event.source) return;
  throw new HubError(
    "SB_EVENT_ID_CONFLICT",
    `the id ${JSON.stringify(event.id)} is already taken; a repeat replays only for the credential that stored it, ` +
      `to the same topic and source: send this event with another id`,
  );
}

/**
 * Throws unless a request repeating an Idempotency-Key may be answered with the first request's results: with auth on,
 * its events go to the same topics, in order.
 * @throws HubError SB_IDEMPOTENCY_KEY_CONFLICT
 */
export function checkRepeatedKey(prior: readonly AppendResult[], events: readonly NewEvent[], publisher: string | undefined): void {
  if (publisher === undefined) return;
  if (prior.length === events.length && prior.every((r, i) => r.topic === events[i]!.topic)) return;
  throw new HubError("SB_IDEMPOTENCY_KEY_CONFLICT", "this Idempotency-Key was used before for a request to other topics; use a new key for a new request");
}

/** The `publisher` column of `idempotency_keys`: the credential id, or "" when auth is off. */
export function idempotencyScope(publisher: string | undefined): string {
  return publisher ?? "";
}
