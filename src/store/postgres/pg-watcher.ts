import pg from "pg";
import type { CommitListener } from "../store.js";

/** Channel the append transaction NOTIFYs with its last seq; PostgreSQL delivers it at commit, in commit order. */
export const COMMITS_CHANNEL = "switchboard_commits";
/** Channel of subscription changes; the payload is `<node id> <subscription id>`. */
export const SUBSCRIPTIONS_CHANNEL = "switchboard_subscriptions";

/** Channel the outbox table's trigger NOTIFYs when an application commits rows to it (migration 0011). */
export const OUTBOX_CHANNEL = "switchboard_outbox";
/** Channel of events of live-only topics: the payload is `<node id> <event>`; nothing of them is stored. */
export const LIVE_CHANNEL = "switchboard_live";
/** Channel of topic changes; the payload is `<node id> <topic name>`. */
export const TOPICS_CHANNEL = "switchboard_topics";

/** Reconnect delays: doubling from the first to the last, then staying there. */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/** Options of {@link watchPgCommits}. */
export interface PgWatcherOptions {
  url: string;
  /** This store's node id: its own subscription announcements are not reported back to it. */
  nodeId: string;
  listener: CommitListener;
  /** The current last seq, read after a reconnect (announcements made while disconnected are lost). */
  lastSeq: () => Promise<number>;
  /** Reports a lost connection and each failed reconnect. */
  onError: (error: Error) => void;
  types?: pg.CustomTypesConfig;
}

/**
 * LISTENs on a dedicated connection (a pooled one would be handed to other queries). When the connection drops it
 * reconnects with backoff, then reports the current last seq and "any subscription may have changed", so nothing
 * committed in between is missed. Resolves once the first LISTEN is in place; returns the function that stops it.
 */
export async function watchPgCommits(options: PgWatcherOptions): Promise<() => Promise<void>> {
  const { listener } = options;
  let client: pg.Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_FIRST_MS;

  const onNotification = (message: pg.Notification) => {
    if (!stopped) reportNotification(message, options);
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: options.url, types: options.types });
    client = c;
    c.on("notification", onNotification);
    await listenOn(c, (error) => {
      if (stopped) return;
      options.onError(error);
      void c.end().catch(() => {});
      scheduleReconnect();
    });
  };

  const scheduleReconnect = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect()
        .then(
          async () => {
            if (stopped) return;
            delay = RECONNECT_FIRST_MS;
            // Announcements made while no one listened are lost: treat the reconnect as one of each.
            listener.onSubscriptionChange?.(undefined);
            listener.onTopicChange?.(undefined);
            listener.onOutbox?.();
            listener.onCommit(await options.lastSeq());
          },
          (error: unknown) => {
            if (stopped) return;
            options.onError(error as Error);
            delay = Math.min(delay * 2, RECONNECT_MAX_MS);
            scheduleReconnect();
          },
        )
        .catch((error: unknown) => options.onError(error as Error));
    }, delay);
    timer.unref();
  };

  await connect();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    const c = client;
    client = undefined;
    if (c) {
      c.removeAllListeners("notification");
      await c.end().catch(() => {});
    }
  };
}

/** Hands a notification to the listener: a commit's last seq, or a subscription another node changed. */
function reportNotification(message: pg.Notification, { listener, nodeId }: PgWatcherOptions): void {
  if (message.channel === COMMITS_CHANNEL) {
    const seq = Number(message.payload);
    if (Number.isSafeInteger(seq)) listener.onCommit(seq);
  } else if (message.channel === OUTBOX_CHANNEL) {
    listener.onOutbox?.();
  } else if (message.channel === SUBSCRIPTIONS_CHANNEL) {
    const [node, id] = (message.payload ?? "").split(" ");
    if (node !== nodeId && id) listener.onSubscriptionChange?.(id);
  } else if (message.channel === LIVE_CHANNEL || message.channel === TOPICS_CHANNEL) {
    // `<node id> <rest>`: the rest may hold spaces (an event's JSON), so split at the first one only.
    const payload = message.payload ?? "";
    const space = payload.indexOf(" ");
    if (space < 0 || payload.slice(0, space) === nodeId) return;
    const rest = payload.slice(space + 1);
    if (message.channel === LIVE_CHANNEL) listener.onLive?.(rest);
    else if (rest) listener.onTopicChange?.(rest);
  }
}

/**
 * Connects `c` and LISTENs on the channels. Once listening, a dropped connection stops its notifications and calls
 * `onLost` once. If connecting or LISTEN fails, `c` is ended and the error thrown (no `onLost`).
 */
async function listenOn(c: pg.Client, onLost: (error: Error) => void): Promise<void> {
  // `error` and `end` both come when the server or network drops the connection; report it once.
  let lost = false;
  const lose = (error?: Error) => {
    if (lost) return;
    lost = true;
    c.removeAllListeners("notification");
    onLost(error ?? new Error("the LISTEN connection ended"));
  };
  c.on("error", lose);
  c.on("end", () => lose());
  try {
    await c.connect();
    await c.query(`LISTEN ${COMMITS_CHANNEL}; LISTEN ${SUBSCRIPTIONS_CHANNEL}; LISTEN ${OUTBOX_CHANNEL}; LISTEN ${LIVE_CHANNEL}; LISTEN ${TOPICS_CHANNEL}`);
  } catch (error) {
    lost = true;
    c.removeAllListeners();
    c.on("error", () => {});
    await c.end().catch(() => {});
    throw error;
  }
}
