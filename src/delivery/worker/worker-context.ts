import type { Logger } from "pino";
import type { AddDeliveriesRequest, StoredEvent } from "../../store/store.js";
import type { AttemptRecorder } from "../attempt-recorder.js";
import type { AttemptSender } from "../attempt-sender.js";
import type { DeliveryStore } from "../delivery-store.js";
import type { InFlightSlots } from "../in-flight-slots.js";

/** A commit, as `SubscriptionWorker.logMoved` is told of it: all the log holds after `after`, up to `last`. */
export interface CommitSummary {
  /** The last seq before the commit's events. */
  after: number;
  /** The commit's last seq. */
  last: number;
  /** The topics of its events. */
  topics: Set<string>;
}

/** What the workers of one dispatcher share (the worker never calls back into the dispatcher). */
export interface WorkerContext {
  store: DeliveryStore;
  log: Logger;
  now: () => number;
  /** This node's id in retry claims. */
  nodeId: string;
  /** The global cap on attempts in flight. */
  slots: InFlightSlots;
  sender: AttemptSender;
  recorder: AttemptRecorder;
  /** Stores a page's pending deliveries with the cursor (the dispatcher's group commit, `DeliveryAdmitter`). */
  admit: (request: AddDeliveriesRequest) => Promise<void>;
  /** The page of the log after a cursor (shared by the workers at that cursor). */
  readLog: (cursor: number) => Promise<StoredEvent[]>;
  /** A subscription whose attempts have failed for this long is disabled. */
  disableAfterMs: number;
  /** Counts a failed evaluation of the subscription's filter (the hub's metric). */
  onFilterError?: () => void;
}
