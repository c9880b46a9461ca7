import type { Logger } from "pino";
import { HubError } from "../errors.js";
import type { LiveSink } from "../ingest/ingestor.js";
import type { TopicCatalog } from "../ingest/topic-catalog.js";
import type { ClusterPart, NewEvent, Store } from "../store/store.js";

/**
 * Events of live-only topics (`storage: "none"`) never touch the log, so the commit feed cannot carry them to the
 * other nodes. On a shared database each is announced by NOTIFY with the event itself as payload: the envelope's
 * fields as a JSON array, a newline, then the data's JSON text as received (so every node's frames carry the same
 * bytes). NOTIFY keeps nothing: a node that is not listening at that moment misses the event, as a stream would.
 */

/**
 * The hub's live wiring: the ingestor's sink (local, or announced first on a shared store), and the cluster sync's
 * handlers of what other nodes announce (their live events, their topic changes).
 */
export function wireLiveEvents({
  store,
  topics,
  emit,
  log,
}: {
  store: Store;
  topics: Pick<TopicCatalog, "reload">;
  emit: (events: NewEvent[]) => void;
  log: Logger;
}) {
  return {
    sink: store.mode === "cluster" ? clusterLiveSink(store.cluster, emit) : localLiveSink(emit),
    announced: {
      onLive(payload: string): void {
        const event = decodeLiveEvent(payload, log);
        if (event) emit([event]);
      },
      onTopicChange(name: string | undefined): void {
        topics.reload(name).catch((error: unknown) => log.error({ err: error, topic: name }, "re-reading a topic failed"));
      },
    },
  };
}

/** This node's sink: hands the events to the local streams (`emit`). */
export function localLiveSink(emit: (events: NewEvent[]) => void): LiveSink {
  return { check() {}, send: emit };
}

/**
 * A node's sink on a shared database: announces the events to the other nodes, then hands them to the local streams.
 * An event whose payload is over the store's limit is refused (413) before anything is sent; when the announcement
 * fails, nothing is sent anywhere and the publish fails with 503.
 */
export function clusterLiveSink(cluster: Pick<ClusterPart, "announceLive" | "maxLivePayloadBytes">, emit: (events: NewEvent[]) => void): LiveSink {
  const payloads = new WeakMap<NewEvent, string>();
  const payloadOf = (e: NewEvent): string => {
    let payload = payloads.get(e);
    if (payload === undefined) {
      payload = encodeLiveEvent(e);
      payloads.set(e, payload);
    }
    return payload;
  };
  return {
    check(events) {
      for (const e of events) {
        const bytes = Buffer.byteLength(payloadOf(e));
        if (bytes > cluster.maxLivePayloadBytes) {
          throw new HubError(
            "SB_LIVE_EVENT_TOO_LARGE",
            `event ${JSON.stringify(e.id)} of live-only topic ${JSON.stringify(e.topic)} takes ${bytes} bytes; ` +
              `the other nodes are told of live events by PostgreSQL NOTIFY, which carries at most ${cluster.maxLivePayloadBytes}`,
          );
        }
      }
    },
    async send(events) {
      try {
        await cluster.announceLive(events.map(payloadOf));
      } catch (error) {
        throw new HubError("SB_STORE_UNAVAILABLE", "the live event could not be announced to the other nodes; nothing was sent; retry", { cause: error });
      }
      emit(events);
    },
  };
}

/** `[id, topic, type, source, subject, time, key, attributes, receivedAt]`, a newline, then the data's JSON text. */
export function encodeLiveEvent(e: NewEvent): string {
  return `${JSON.stringify([e.id, e.topic, e.type, e.source, e.subject, e.time, e.key, e.attributes, e.receivedAt])}\n${e.dataJson}`;
}

/** The event of a payload of {@link encodeLiveEvent}; undefined (and logged) when it is not one. */
export function decodeLiveEvent(payload: string, log?: Logger): NewEvent | undefined {
  try {
    const newline = payload.indexOf("\n");
    if (newline < 0) throw new Error("no newline");
    const [id, topic, type, source, subject, time, key, attributes, receivedAt] = JSON.parse(payload.slice(0, newline)) as [
      string,
      string,
      string | null,
      string | null,
      string | null,
      number,
      string | null,
      Record<string, string>,
      number,
    ];
    const dataJson = payload.slice(newline + 1);
    if (typeof id !== "string" || typeof topic !== "string") throw new Error("no id or topic");
    return { id, clientId: false, topic, type, source, subject, time, key, dataJson, data: JSON.parse(dataJson), attributes, receivedAt };
  } catch (error) {
    log?.warn({ err: error }, "ignoring a malformed live event announcement");
    return undefined;
  }
}
