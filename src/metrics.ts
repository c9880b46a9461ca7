import { monitorEventLoopDelay } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { otelInstruments, type OtelInstruments } from "./telemetry.js";

/** The label of the topics past {@link HubMetricsOptions.topicLabelCap}. */
export const OTHER_TOPICS = "other";

/** The outcomes `switchboard_ingest_requests_total` counts. */
export type IngestOutcome = "stored" | "replayed" | "live" | "rejected" | "failed";

/** Options of {@link HubMetrics}. */
export interface HubMetricsOptions {
  /** Most topics with a series of their own in the per-topic counters; later topics count under `other`. */
  topicLabelCap?: number;
}

/**
 * The hub's Prometheus metrics, in a registry of its own so that several hubs in one process (tests, library
 * users) do not collide.
 */
export class HubMetrics {
  readonly registry = new Registry();
  readonly eventsIngested: Counter;
  /** Events committed per topic: the first `topicLabelCap` topics seen have a label value each, the rest `other`. */
  readonly topicEventsIngested: Counter<"topic">;
  readonly ingestRequests: Counter<"outcome">;
  readonly ingestLatency: Histogram;
  readonly commitBatchEvents: Histogram;
  readonly commitDuration: Histogram;
  readonly streamsOpen: Gauge;
  readonly streamFramesSent: Counter;
  readonly streamFramesDropped: Counter;
  readonly streamsClosedSlow: Counter;
  readonly filterErrors: Counter;
  readonly deliveryAttempts: Counter<"outcome">;
  readonly deliveryLatency: Histogram;
  readonly deliveriesDead: Counter;
  /** The same measures as OpenTelemetry instruments: no-ops unless the application installed a meter provider. */
  readonly otel: OtelInstruments = otelInstruments();
  /** Counts one failed filter evaluation: the `onError` of every filter the hub compiles. */
  readonly countFilterError = (): void => this.filterErrors.inc();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private readonly labelledTopics = new Set<string>();
  /** Publish requests counted since the counter was last read, per outcome (see {@link countIngestRequests}). */
  private readonly pendingIngest = new Map<IngestOutcome, number>();
  private readonly topicLabelCap: number;

  constructor({ topicLabelCap = 100 }: HubMetricsOptions = {}) {
    const registers = [this.registry];
    this.topicLabelCap = topicLabelCap;
    collectDefaultMetrics({ register: this.registry });
    this.eventsIngested = new Counter({ name: "switchboard_events_ingested_total", help: "Events committed to the store", registers });
    const perTopicHelp = 'Events committed to the store per topic (topics past the cap count as topic="other")';
    this.topicEventsIngested = new Counter({ name: "switchboard_topic_events_ingested_total", help: perTopicHelp, labelNames: ["topic"], registers });
    this.ingestRequests = ingestRequestsCounter(registers, this.pendingIngest);
    this.ingestLatency = new Histogram({
      name: "switchboard_ingest_latency_seconds",
      help: "Time from a publish being queued to its commit",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.commitBatchEvents = new Histogram({
      name: "switchboard_commit_batch_events",
      help: "Events per group-commit transaction",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers,
    });
    this.commitDuration = new Histogram({
      name: "switchboard_commit_duration_seconds",
      help: "Duration of one group-commit transaction",
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers,
    });
    this.streamsOpen = new Gauge({ name: "switchboard_streams_open", help: "Open SSE streams", registers });
    this.streamFramesSent = new Counter({ name: "switchboard_stream_frames_sent_total", help: "SSE event frames written", registers });
    this.streamFramesDropped = new Counter({
      name: "switchboard_stream_frames_dropped_total",
      help: "SSE event frames not written because their stream was closed as too slow",
      registers,
    });
    this.streamsClosedSlow = new Counter({
      name: "switchboard_streams_closed_slow_total",
      help: "SSE streams closed because their reader fell behind the buffer limit",
      registers,
    });
    this.filterErrors = new Counter({
      name: "switchboard_filter_errors_total",
      help: "Filter evaluations that failed on an event (counted as no match)",
      registers,
    });
    this.deliveryAttempts = new Counter({
      name: "switchboard_delivery_attempts_total",
      help: "Webhook attempts by outcome (delivered, failed)",
      labelNames: ["outcome"],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: "switchboard_delivery_latency_seconds",
      help: "Duration of one webhook attempt",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.deliveriesDead = new Counter({
      name: "switchboard_deliveries_dead_total",
      help: "Deliveries that ran out of retries",
      registers,
    });
    this.loopDelay.enable();
    const loopDelay = this.loopDelay;
    new Gauge({
      name: "switchboard_event_loop_delay_p99_seconds",
      help: "p99 event-loop delay since the previous scrape",
      registers,
      collect() {
        this.set(loopDelay.percentile(99) / 1e9);
        loopDelay.reset();
      },
    });
  }

  /**
   * Counts publish requests of one outcome. The count goes into a plain number, added to the labelled series when
   * the counter is read: prom-client's `inc` (its labels hashed, its value object updated) on every request was a
   * visible share of a publish's CPU. An outcome counted once has its series from then on, as with `inc`.
   */
  countIngestRequests(outcome: IngestOutcome, n = 1): void {
    this.pendingIngest.set(outcome, (this.pendingIngest.get(outcome) ?? 0) + n);
  }

  /** Counts a commit's events in total and per topic: one increment per topic of the batch. */
  countIngested(events: ReadonlyArray<{ topic: string }>): void {
    this.eventsIngested.inc(events.length);
    const perTopic = new Map<string, number>();
    for (const e of events) perTopic.set(e.topic, (perTopic.get(e.topic) ?? 0) + 1);
    for (const [topic, n] of perTopic) this.topicEventsIngested.inc({ topic: this.topicLabel(topic) }, n);
  }

  /** The topic's label value: its name while fewer than the cap have one, else `other` (bounded cardinality). */
  private topicLabel(topic: string): string {
    if (this.labelledTopics.has(topic)) return topic;
    if (this.labelledTopics.size >= this.topicLabelCap) return OTHER_TOPICS;
    this.labelledTopics.add(topic);
    return topic;
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.loopDelay.disable();
  }
}

/** `switchboard_ingest_requests_total`, which adds the requests counted in `pending` when it is read (a scrape, `get()`). */
function ingestRequestsCounter(registers: Registry[], pending: Map<IngestOutcome, number>): Counter<"outcome"> {
  return new Counter({
    name: "switchboard_ingest_requests_total",
    help: "Publish requests by outcome (stored, replayed, live, rejected, failed)",
    labelNames: ["outcome"],
    registers,
    collect() {
      for (const [outcome, n] of pending) {
        this.labels(outcome).inc(n);
        pending.set(outcome, 0);
      }
    },
  });
}
