/**
 * OpenTelemetry through `@opentelemetry/api` only: every call is a no-op until the application installs an SDK (a
 * tracer provider, a meter provider). Spans: `switchboard.publish`, `switchboard.commit`, `switchboard.deliver.<kind>`;
 * an event carries its publish span's context as its `traceparent` attribute, and each delivery attempt is a child of
 * it. See docs/library.md.
 */
import {
  context,
  isSpanContextValid,
  metrics,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type Counter,
  type Histogram,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";

const SCOPE = "switchboard";
const SCOPE_VERSION = "0.1.0";

/** The hub's tracer; a proxy, so a tracer provider installed after the hub is created is used too. */
export function hubTracer(): Tracer {
  return trace.getTracer(SCOPE, SCOPE_VERSION);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The context whose (remote) parent is the W3C `traceparent` given, on top of `base`; undefined when the value is
 * absent or malformed (an all-zero trace or span id is malformed). Parsed here rather than by a propagator, so it
 * works with no SDK installed.
 */
export function contextFromTraceparent(value: string | undefined, base: Context = ROOT_CONTEXT): Context | undefined {
  const match = value === undefined ? null : TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const spanContext: SpanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(base, spanContext) : undefined;
}

/** The W3C `traceparent` of a span context. */
export function traceparentOf(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & TraceFlags.SAMPLED}`;
}

/**
 * The parent of a publish: the active context when it has a span (an HTTP instrumentation already continued the
 * caller's trace), else the request's `traceparent` header, else the active context.
 */
export function publishParent(traceparentHeader: string | string[] | undefined): Context {
  const active = context.active();
  if (trace.getSpan(active) !== undefined) return active;
  const header = Array.isArray(traceparentHeader) ? traceparentHeader[0] : traceparentHeader;
  return contextFromTraceparent(header, active) ?? active;
}

/** The OpenTelemetry instruments beside the Prometheus ones (see `metrics.ts`). */
export interface OtelInstruments {
  /** Events committed (one series: topics are unbounded). */
  eventsPublished: Counter;
  /** Delivery attempts, by `switchboard.destination.kind` and `switchboard.delivery.outcome`. */
  deliveryAttempts: Counter;
  /** Duration of one attempt in seconds, by the same attributes. */
  attemptDuration: Histogram;
}

/**
 * The instruments, from the global meter provider as it is now: install the SDK's meter provider before creating the
 * hub (the metrics API has no proxy that would pick up a later one).
 */
export function otelInstruments(): OtelInstruments {
  const meter = metrics.getMeter(SCOPE, SCOPE_VERSION);
  return {
    eventsPublished: meter.createCounter("switchboard.events.published", { description: "Events committed to the log", unit: "{event}" }),
    deliveryAttempts: meter.createCounter("switchboard.delivery.attempts", {
      description: "Delivery attempts, by destination kind and outcome (delivered, failed)",
      unit: "{attempt}",
    }),
    attemptDuration: meter.createHistogram("switchboard.delivery.attempt.duration", {
      description: "Duration of one delivery attempt, by destination kind and outcome",
      unit: "s",
    }),
  };
}
