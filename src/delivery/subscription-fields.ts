import { HubError } from "../errors.js";
import { compileFilter } from "../routing/filter.js";
import { topicPatternProblem } from "../routing/topic-pattern.js";
import { translateSwitchFilter } from "../routing/switch-filter.js";
import type { FilterSyntax, Subscription, SubscriptionPatch } from "../store/store.js";
import { parseRetrySchedule } from "./webhooks/retry-policy.js";
import { isValidSecret } from "./webhooks/sign.js";
import { parseHeaders } from "./webhooks/subscription-headers.js";
import { validateDestinationUrl } from "./destinations/index.js";

/** The fields of a subscription a caller sets, in domain terms (the API's wire form is mapped in `api/wire/`). */
export interface SubscriptionFields {
  /** A topic name or pattern. */
  topic?: string;
  url?: string;
  /** A CEL expression (or one in {@link filterSyntax}); null or empty for none. */
  filter?: string | null;
  /** The syntax `filter` is written in; "cel" when absent. Only with `filter`. */
  filterSyntax?: FilterSyntax;
  headers?: Record<string, string>;
  /** `whsec_` and base64 of 24-64 bytes. */
  secret?: string;
  active?: boolean;
  ordering?: Subscription["ordering"];
  /** Delays in seconds, 1 to 50 entries. */
  retrySchedule?: number[];
  /** 100 to 60,000. */
  timeoutMs?: number;
  /** 1 to 1000. */
  maxInFlight?: number;
  /** Deliveries per second, above 0 and at most 100,000; null for no limit. */
  rateLimit?: number | null;
  body?: Subscription["body"];
}

/** Where a new subscription's deliveries start: now, the beginning of the log, or the first event at or after a time (epoch ms). */
export type SubscriptionStart = "now" | "beginning" | number;

/** A subscription to create. */
export interface SubscriptionInput extends SubscriptionFields {
  topic: string;
  url: string;
  start?: SubscriptionStart;
}

/** A Postoffice publisher to create: a subscription by another name. */
export interface PublisherInput {
  topic: string;
  /** Where events go: a webhook or broker url, as a subscription's `url`. */
  target: string;
  active: boolean;
  /** false: deliver what the topic already holds too. */
  fromNow?: boolean;
}

/**
 * Checks the values the types cannot: topic pattern, target (the private-address guard), filter (compiled), headers,
 * secret, retry schedule and ranges.
 * @throws HubError 400 naming the field at fault.
 */
export async function checkSubscriptionFields(f: SubscriptionFields, options: { allowPrivateTargets: boolean }): Promise<SubscriptionPatch> {
  const out: SubscriptionPatch = {};
  if (f.topic !== undefined) {
    const problem = topicPatternProblem(f.topic);
    if (problem) throw invalid(`topic: ${problem}`);
    out.topic = f.topic;
  }
  if (f.url !== undefined) out.url = await validateDestinationUrl(f.url, { allowPrivate: options.allowPrivateTargets });
  if (f.filterSyntax !== undefined && f.filterSyntax !== "cel" && f.filterSyntax !== "switch") {
    throw invalid('filter_syntax must be "cel" or "switch"');
  }
  if (f.filter !== undefined && f.filter !== null && f.filter !== "") {
    const syntax = f.filterSyntax ?? "cel";
    // Both throw SB_FILTER_INVALID naming what is wrong (or has no translation) and where.
    out.filter = syntax === "cel" ? f.filter : translateSwitchFilter(f.filter);
    compileTranslated(out.filter, syntax);
    out.filterSyntax = syntax;
    out.filterSource = syntax === "cel" ? null : f.filter;
  } else if (f.filter !== undefined) {
    out.filter = null;
    out.filterSyntax = "cel";
    out.filterSource = null;
  } else if (f.filterSyntax !== undefined) {
    throw invalid("filter_syntax says how filter is written: give filter with it");
  }
  if (f.headers !== undefined) out.headers = parseHeaders(f.headers);
  if (f.secret !== undefined) {
    if (!isValidSecret(f.secret)) throw invalid("secret must look like whsec_ followed by base64 of 24-64 bytes");
    out.secret = f.secret;
  }
  if (f.active !== undefined) out.active = f.active;
  if (f.ordering !== undefined) {
    if (f.ordering !== "none" && f.ordering !== "key") throw invalid('ordering must be "none" or "key"');
    out.ordering = f.ordering;
  }
  if (f.retrySchedule !== undefined) out.retrySchedule = parseRetrySchedule(f.retrySchedule);
  if (f.timeoutMs !== undefined) out.timeoutMs = wholeNumber(f.timeoutMs, "timeoutMs", 100, 60_000);
  if (f.maxInFlight !== undefined) out.maxInFlight = wholeNumber(f.maxInFlight, "maxInFlight", 1, 1000);
  if (f.rateLimit !== undefined) {
    if (f.rateLimit !== null && !(f.rateLimit > 0 && f.rateLimit <= 100_000)) {
      throw invalid("rateLimit must be a number of deliveries per second above 0 and at most 100000, or null");
    }
    out.rateLimit = f.rateLimit;
  }
  if (f.body !== undefined) {
    if (f.body !== "data" && f.body !== "envelope") throw invalid('body must be "data" or "envelope"');
    out.body = f.body;
  }
  return out;
}

/** Compiles the CEL that runs; a translation's own refusal (its cost) shows the CEL it is about. */
function compileTranslated(cel: string, syntax: FilterSyntax): void {
  try {
    compileFilter(cel);
  } catch (error) {
    if (syntax === "cel" || !(error instanceof HubError)) throw error;
    throw new HubError(error.code, `${error.details}\n\n(the filter's translation to CEL: ${cel})`);
  }
}

function wholeNumber(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${name} must be a whole number from ${min} to ${max}`);
  return value;
}

function invalid(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}
