import type { Logger } from "pino";
import { CommitFeed } from "../delivery/commit-feed.js";
import type { ClusterStore, StoredEvent } from "../store/store.js";

/** Options of {@link startClusterSync}. */
export interface ClusterSyncOptions {
  store: ClusterStore;
  /** Receives every committed event once, in seq order: this node's and the other nodes'. */
  emit: (events: StoredEvent[]) => void;
  /** Re-reads changed subscriptions; absent on a node that runs no workers (`api` role). */
  dispatcher?: { refresh(id: string): Promise<void>; refreshAll(): Promise<void> };
  log: Logger;
  /** An application committed outbox rows (any node's hub may relay them). */
  onOutbox?: () => void;
  /** Another node announced an event of a live-only topic (see live-events.ts). */
  onLive?: (payload: string) => void;
  /** Another node changed the topic `name` (undefined: any topic may have changed). */
  onTopicChange?: (name: string | undefined) => void;
  /** This node's commits in flight (see CommitFeedOptions.localCommits). */
  localCommits?: () => Promise<unknown> | undefined;
}

/** This node's side of a database shared with other nodes; see {@link startClusterSync}. */
export interface ClusterSync {
  /** This node committed `events` (in seq order). */
  local(events: StoredEvent[]): void;
  /** The dispatcher has started: subscription changes announced before are re-read now, later ones at once. */
  dispatcherStarted(): void;
  /** Stops listening, then the feed. */
  stop(): Promise<void>;
}

/**
 * Several nodes on one PostgreSQL: the other nodes' commits are announced (LISTEN/NOTIFY) and read from the store,
 * so streams on this node see every event, and this node's dispatcher every event to deliver. Resolves once
 * listening; if starting fails, whatever was opened is closed again before the error is thrown.
 */
export async function startClusterSync({
  store,
  emit,
  dispatcher,
  log,
  onOutbox,
  onLive,
  onTopicChange,
  localCommits,
}: ClusterSyncOptions): Promise<ClusterSync> {
  let feed: CommitFeed | undefined;
  const early: number[] = [];
  const subscriptionChanges = subscriptionRefresher(dispatcher, log);
  let unwatch: (() => Promise<void>) | undefined;
  try {
    unwatch = await store.cluster.watchCommits({
      onCommit(lastSeq) {
        if (feed) feed.announced(lastSeq);
        else early.push(lastSeq);
      },
      onSubscriptionChange: subscriptionChanges.changed,
      onOutbox,
      onLive,
      onTopicChange,
      onConnectionError(error) {
        log.warn({ err: error }, "commit announcements connection lost; reconnecting");
      },
    });
    // Listening before reading the last seq: a commit after it is announced, one before it is not needed.
    feed = new CommitFeed({ store, emit, log, startSeq: await store.events.lastSeq(), localCommits });
  } catch (error) {
    await unwatch?.();
    throw error;
  }
  for (const seq of early) feed.announced(seq);
  const started = feed;
  return {
    local: (events) => started.local(events),
    dispatcherStarted: subscriptionChanges.start,
    async stop() {
      await unwatch?.();
      await started.stop();
    },
  };
}

/**
 * Re-reads subscriptions other nodes changed. Changes announced before the dispatcher has started are kept and
 * re-read once it has (a refresh before would race its own loading); `undefined` stands for "all of them".
 */
export function subscriptionRefresher(dispatcher: ClusterSyncOptions["dispatcher"], log: Logger) {
  let started = false;
  const beforeStart: Array<string | undefined> = [];
  const changed = (id: string | undefined): void => {
    if (!dispatcher) return;
    if (!started) {
      beforeStart.push(id);
      return;
    }
    const done = id === undefined ? dispatcher.refreshAll() : dispatcher.refresh(id);
    done.catch((error: unknown) => log.error({ err: error, subscriptionId: id }, "re-reading a subscription failed"));
  };
  const start = (): void => {
    started = true;
    for (const id of beforeStart.splice(0)) changed(id);
  };
  return { changed, start };
}
