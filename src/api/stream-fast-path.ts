import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { StreamHub } from "../delivery/sse/stream-hub.js";

/**
 * The lean path of plain stream opens: `GET /events` with no query string, auth known to be off, answered by a
 * `node:http` handler ahead of fastify's. When thousands of streams connect at once (every client of a restarted
 * node), fastify's request and reply objects, router, hooks and schema check are about 5% of the hub's CPU (a
 * profile of 10,000 opens); this opens the same stream (the stream hub's `open`, so the same bytes on the wire)
 * with the same log lines.
 * Every other request goes to fastify untouched: a query string (topics, filters, `envelope`, `last_event_id`), auth
 * on or not known to be off (the key cache expired), a `Last-Event-ID` the route would refuse, a request with a body,
 * an `Origin` when CORS is on, no room for another stream (fastify answers the 503), and any request while starting or
 * draining. With auth off no credential is known, so no per-credential limit applies (see limits.ts).
 */

/** What {@link createStreamFastPath} needs of the app. */
export interface StreamFastPathOptions {
  basePath: string;
  streams: StreamHub;
  /** The request logger (`request completed`, `request failed`). */
  log: Logger;
  /** The stream routes' logger (`stream closed`). */
  streamLog: Logger;
  /** Whether the path may answer now: the app is ready (not starting, draining or closing). */
  open: () => boolean;
  /** Whether requests need a credential, when known without asking the store (`Authenticator.enabledNow`). */
  authEnabled: () => boolean | undefined;
  /** Whether CORS is configured: requests with an `Origin` then go to fastify. */
  cors: boolean;
  /** The next request id, from the counter fastify uses too. */
  genReqId: () => string;
}

/** The longest `Last-Event-ID` the stream route accepts (routes/streams.ts). */
const MAX_LAST_EVENT_ID = 200;
const BAD_ID_CHARS = /[\r\n\0]/;

/**
 * Builds the lean handler: it returns false, having touched nothing, when fastify should handle the request.
 * @example server.on("request", (req, res) => streamPath(req, res) || fastifyHandler(req, res));
 */
export function createStreamFastPath(options: StreamFastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { streams, log, streamLog, basePath } = options;
  // With an empty BASE_PATH, `GET /events` is also the search: only a client asking for a stream is one (auth.ts's
  // isStreamRequest).
  const needsAccept = basePath === "";
  return (req, res) => {
    if (req.method !== "GET" || req.url !== "/events") return false;
    const { headers } = req;
    if (needsAccept && !(headers.accept ?? "").includes("text/event-stream")) return false;
    if (!options.open() || options.authEnabled() !== false || !streams.hasRoom()) return false;
    if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) return false;
    if (options.cors && headers.origin !== undefined) return false;
    // As the route reads it: an empty header is none; one it would refuse (400) is left to it.
    const header = headers["last-event-id"];
    const lastEventId = (Array.isArray(header) ? header[0] : header) || undefined;
    if (lastEventId !== undefined && (lastEventId.length > MAX_LAST_EVENT_ID || BAD_ID_CHARS.test(lastEventId))) return false;

    const reqId = options.genReqId();
    const started = performance.now();
    const startedAt = Date.now();
    // fastify's two lines: `request completed` when the response finishes on Node's HTTP server (a stream whose
    // connection is taken from it never does), and the stream route's `stream closed`.
    res.once("finish", () => {
      if (log.isLevelEnabled("info")) {
        log.info(
          { reqId, method: "GET", url: "/events", status: res.statusCode, ms: Math.round((performance.now() - started) * 100) / 100 },
          "request completed",
        );
      }
    });
    res.on("close", () => streamLog.info({ reqId, method: "GET", url: "/events", durationMs: Date.now() - startedAt }, "stream closed"));
    streams.open(res, { topics: [], envelope: false, lastEventId }).catch((error: unknown) => {
      log.error({ reqId, err: error }, "request failed");
      res.destroy();
    });
    return true;
  };
}
