import type { Logger } from "pino";
import { HubError } from "../../errors.js";
import { compileFilter } from "../../routing/filter.js";
import { topicPatternProblem } from "../../routing/topic-pattern.js";
import type { StoredEvent, Subscription } from "../../store/store.js";
import { parseTime } from "../../time.js";
import type { SubscriptionStart } from "../subscription-fields.js";
import { DEFAULT_RETRY_SCHEDULE_S, MAX_RETRY_ATTEMPTS, MAX_RETRY_DELAY_S } from "../webhooks/retry-policy.js";

/**
 * Glossary of library mode:
 * - **handler**: an in-process function registered with `hub.handle(topic, fn, options)`; durably a subscription of
 *   kind "function" whose url is `function:<name>`, with its own cursor, deliveries, retries and dead letters;
 * - **run**: one call of the function for one delivery, i.e. one attempt; a run that throws (or rejects) is a failed
 *   attempt, with the error's message recorded.
 */

/** What a handler run gets besides its event. */
export interface HandlerContext {
  /** 1 on the first run of this delivery's round, 2 on the first retry… */
  attempt: number;
  /** The delivery's id, the same on every retry: a key to drop duplicates (delivery is at least once). */
  deliveryId: string;
  /** The hub's logger, bound to the handler, delivery and attempt. */
  logger: Logger;
}

/** An in-process handler: throw (or reject) to fail this attempt. */
export type Handler = (event: StoredEvent, ctx: HandlerContext) => unknown;

/** A function backoff: the wait in ms after failed attempt number `attempt` (1 after the first failure). Not jittered. */
export type BackoffFunction = (attempt: number) => number;

/** Options of `hub.handle`. */
export interface HandlerOptions {
  /** The durable identity: its cursor and deliveries survive restarts under this name. Letters, digits, `._:-`, at most 100. */
  name: string;
  /** A CEL expression over the event, as for subscriptions and streams. */
  filter?: string;
  /** Failed attempts before the delivery is dead; 1 to 50, default 10. */
  maxErrors?: number;
  /** Waits in seconds after the 1st, 2nd… failure (the last repeats; each jittered ±20%), or a function of the attempt giving ms. */
  backoff?: readonly number[] | BackoffFunction;
  /** Higher first when several handlers have work and the hub's `deliveryConcurrency` is all in use; default 0. */
  priority?: number;
  /** Runs of this handler in flight at most; 1 to 1000, default 1. */
  concurrency?: number;
  /** `"key"`: one run at a time per event key, in log order, a failing event holding back its key's later ones. Default `"none"`. */
  ordering?: "none" | "key";
  /** Where a new handler starts in the log: `"now"` (default), `"beginning"`, or a time (Date, epoch ms, ISO text). Ignored once it exists. */
  start?: "now" | "beginning" | Date | number | string;
}

/** A handler's options, checked and in the subscription's terms. */
export interface HandlerSpec {
  name: string;
  /** `function:<name>`: the subscription's url. */
  url: string;
  topic: string;
  filter: string | null;
  /** Entry 0 (0 s) precedes the first run; entry n follows failure n; `maxErrors` entries in all. */
  retrySchedule: number[];
  /** With a function backoff the schedule is all zeros and each failure asks for this wait. */
  backoff: BackoffFunction | undefined;
  priority: number;
  maxInFlight: number;
  ordering: Subscription["ordering"];
  start: SubscriptionStart;
}

/** The url prefix of the subscriptions that are handlers. */
export const FUNCTION_URL_PREFIX = "function:";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const MAX_PRIORITY = 1_000_000;

/** Whether a subscription url names an in-process handler. */
export function isFunctionUrl(url: string): boolean {
  return url.startsWith(FUNCTION_URL_PREFIX);
}

/** The handler name of a `function:` url. */
export function handlerNameOf(url: string): string {
  return url.slice(FUNCTION_URL_PREFIX.length);
}

/**
 * Checks `hub.handle`'s arguments and returns the handler's subscription terms.
 * @throws HubError `SB_HANDLER_INVALID` naming the option at fault; `SB_FILTER_INVALID` for a filter that does not compile.
 */
export function checkHandler(topic: unknown, fn: unknown, options: HandlerOptions | undefined): HandlerSpec {
  if (typeof options !== "object" || options === null) throw invalid('options with at least a name are required, e.g. { name: "send-receipt" }');
  const { name } = options;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw invalid(`name must be 1-100 letters, digits or ._:- starting with a letter or digit, got ${JSON.stringify(name)}`);
  }
  const at = `handler ${JSON.stringify(name)}: `;
  if (typeof topic !== "string") throw invalid(`${at}topic must be a topic name or pattern, got ${typeof topic}`);
  const problem = topicPatternProblem(topic);
  if (problem) throw invalid(`${at}topic: ${problem}`);
  if (typeof fn !== "function") throw invalid(`${at}the handler must be a function, got ${typeof fn}`);
  if (options.filter !== undefined && typeof options.filter !== "string") throw invalid(`${at}filter must be a CEL expression string`);
  if (options.filter) compileFilter(options.filter); // SB_FILTER_INVALID with the position
  const maxErrors = wholeNumber(options.maxErrors ?? 10, `${at}maxErrors`, 1, MAX_RETRY_ATTEMPTS);
  const { schedule, backoff } = backoffOf(options.backoff, maxErrors, at);
  if (options.ordering !== undefined && options.ordering !== "none" && options.ordering !== "key") throw invalid(`${at}ordering must be "none" or "key"`);
  return {
    name,
    url: FUNCTION_URL_PREFIX + name,
    topic,
    filter: options.filter || null,
    retrySchedule: schedule,
    backoff,
    priority: wholeNumber(options.priority ?? 0, `${at}priority`, -MAX_PRIORITY, MAX_PRIORITY),
    maxInFlight: wholeNumber(options.concurrency ?? 1, `${at}concurrency`, 1, 1000),
    ordering: options.ordering ?? "none",
    start: startOf(options.start, at),
  };
}

/** The retry schedule of `maxErrors` attempts: no wait before the first, then the backoff's waits (its last repeated). */
function backoffOf(input: HandlerOptions["backoff"], maxErrors: number, at: string): { schedule: number[]; backoff: BackoffFunction | undefined } {
  if (typeof input === "function") return { schedule: new Array<number>(maxErrors).fill(0), backoff: input as BackoffFunction };
  const waits = input ?? DEFAULT_RETRY_SCHEDULE_S.slice(1);
  if (!Array.isArray(waits) || waits.length === 0) throw invalid(`${at}backoff must be a non-empty array of seconds or a function (attempt) => ms`);
  waits.forEach((w: unknown, i) => {
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0 || w > MAX_RETRY_DELAY_S) {
      throw invalid(`${at}backoff[${i}] must be a number of seconds from 0 to ${MAX_RETRY_DELAY_S}, got ${JSON.stringify(w)}`);
    }
  });
  const schedule = [0];
  for (let i = 1; i < maxErrors; i++) schedule.push(waits[Math.min(i - 1, waits.length - 1)] as number);
  return { schedule, backoff: undefined };
}

function startOf(start: HandlerOptions["start"], at: string): SubscriptionStart {
  if (start === undefined || start === "now" || start === "beginning") return start ?? "now";
  const ms = start instanceof Date ? start.getTime() : parseTime(start);
  if (ms === undefined || !Number.isFinite(ms)) throw invalid(`${at}start must be "now", "beginning" or a time, got ${JSON.stringify(start)}`);
  return ms;
}

function wholeNumber(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function invalid(details: string): HubError {
  return new HubError("SB_HANDLER_INVALID", details);
}
