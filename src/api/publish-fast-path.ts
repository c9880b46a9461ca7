import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { ERRORS, HubError, type ErrorSpec } from "../errors.js";
import { redactUrl } from "./auth.js";
import { jsonDepthExceeds } from "./limits.js";
import type { IngestRoute, PublishInput, PublishOutcome } from "./routes/events.js";

/**
 * The lean path of the publish routes (`POST BASE_PATH/events`, `/topics/:topic/events`, `/messages`): a `node:http`
 * handler ahead of fastify's, for the plain case only. It answers what fastify would (the same publisher, the same
 * `{error, details, code}` bodies, the same log lines) without fastify's request and reply objects, router and hooks,
 * which cost about as much CPU per request as the publish itself. Every request it cannot answer cheaply goes to
 * fastify untouched: auth on (or not known to be off), a CORS origin, a query string, a path parameter with escapes,
 * a body without Content-Length or over the limit, a content type other than `application/json`, CloudEvents binary
 * mode, and any request while starting or draining.
 */

/** What {@link createPublishFastPath} needs of the app. */
export interface PublishFastPathOptions {
  basePath: string;
  bodyLimit: number;
  maxJsonDepth: number;
  log: Logger;
  /** Whether the path may answer now: the app is ready (not starting, draining or closing) and auth is known to be off. */
  open: () => boolean;
  /** Whether CORS is configured: requests with an `Origin` then go to fastify. */
  cors: boolean;
  /** The next request id, from the counter fastify uses too. */
  genReqId: () => string;
  /** Whether the app is draining, for `connection: close` on replies in flight. */
  draining: () => boolean;
  /** fastify's JSON parser (prototype poisoning refused), so errors read the same. */
  parseJson: (text: string, done: (error: Error | null, value: unknown) => void) => void;
  publish: (input: PublishInput) => Promise<PublishOutcome>;
  /** Maps an error to the catalog's (as fastify's error handler does). */
  toHubError: (error: unknown) => HubError;
}

/**
 * The level of a publish request's line: `debug` when it succeeded, else `info`. At tens of thousands of publishes a
 * second the line cost about a tenth of the hub's CPU (docs/operations.md#logs); `switchboard_ingest_requests_total`
 * counts them, and refusals and failures keep their lines at `info` and `error`.
 */
export function publishLogLevel(status: number): "debug" | "info" {
  return status < 400 ? "debug" : "info";
}

/** Longest `:topic` the lean path takes (the router's maxParamLength); longer ones go to fastify, which answers 414. */
const MAX_TOPIC_LENGTH = 256;
/** Topic path segments the router would pass unchanged (no escapes to decode). */
const PLAIN_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const JSON_TYPE = "application/json";

/** The publish route a URL names, when the router would match it with nothing to decode; else undefined. */
function publishRouteOf(basePath: string): (url: string) => IngestRoute | undefined {
  const eventsPath = `${basePath}/events`;
  const messagesPath = `${basePath}/messages`;
  const topicsPrefix = `${basePath}/topics/`;
  const plain: IngestRoute = {};
  const messages: IngestRoute = { envelopeRequired: true };
  return (url) => {
    if (url === eventsPath) return plain;
    if (url === messagesPath) return messages;
    if (!url.startsWith(topicsPrefix) || !url.endsWith("/events")) return undefined;
    const topic = url.slice(topicsPrefix.length, -"/events".length);
    if (topic.length > MAX_TOPIC_LENGTH || !PLAIN_SEGMENT.test(topic) || topic === "." || topic === "..") return undefined;
    return { topic, bodyIsData: true };
  };
}

/**
 * Builds the lean handler: it returns false, having touched nothing, when fastify should handle the request.
 * @example server.on("request", (req, res) => fastPath(req, res) || fastifyHandler(req, res));
 */
export function createPublishFastPath(options: PublishFastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { basePath, bodyLimit, maxJsonDepth, log } = options;
  const routeOf = publishRouteOf(basePath);

  return (req, res) => {
    if (req.method !== "POST") return false;
    const url = req.url!;
    const route = routeOf(url);
    if (route === undefined || !options.open()) return false;
    const { headers } = req;
    const type = headers["content-type"];
    if (type === undefined || !(type === JSON_TYPE || (type.startsWith(JSON_TYPE) && type.charCodeAt(JSON_TYPE.length) === 0x3b))) return false;
    if (headers["ce-specversion"] !== undefined || headers["transfer-encoding"] !== undefined) return false;
    if (options.cors && headers.origin !== undefined) return false;
    const length = Number(headers["content-length"]);
    if (!(length > 0 && length <= bodyLimit)) return false;

    const started = performance.now();
    const reqId = options.genReqId();
    const reply = (status: number, body: string, extra?: Record<string, string>) => {
      const head: Record<string, string | number> = { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), ...extra };
      // A request in flight when draining began: its connection closes after the reply (as build-app's onSend does).
      if (options.draining()) head.connection = "close";
      res.writeHead(status, head).end(body);
      const level = publishLogLevel(status);
      if (log.isLevelEnabled(level)) {
        log[level]({ reqId, method: "POST", url: redactUrl(url), status, ms: Math.round((performance.now() - started) * 100) / 100 }, "request completed");
      }
    };
    const fail = (error: unknown) => {
      const hubErr = options.toHubError(error);
      if (hubErr.status >= 500) log.error({ reqId, err: error }, "request failed");
      else log.info({ reqId, code: hubErr.code, details: hubErr.details }, "request rejected");
      const retryAfterS = (ERRORS[hubErr.code] as ErrorSpec).retryAfterS;
      reply(hubErr.status, JSON.stringify(hubErr.toBody()), retryAfterS === undefined ? undefined : { "retry-after": String(retryAfterS) });
    };
    const succeed = (outcome: PublishOutcome) => {
      // Nothing thrown here may become an unhandled rejection (it would end the process).
      try {
        reply(201, JSON.stringify(outcome.reply), outcome.replayed ? { "idempotent-replayed": "true" } : undefined);
      } catch (error) {
        if (res.headersSent) res.destroy();
        else fail(error);
      }
    };

    const chunks: Buffer[] = [];
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
    });
    req.on("error", (error: Error & { statusCode?: number }) => {
      // As fastify's body reader: an error of the request stream is a 400 unless it says otherwise.
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
      fail(error);
    });
    req.on("end", () => {
      let text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, received).toString("utf8");
      // As build-app's JSON parser: a BOM is dropped, nesting checked on the text, then fastify's parser.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (jsonDepthExceeds(text, maxJsonDepth)) {
        fail(new HubError("SB_REQUEST_TOO_DEEP", `the body nests arrays and objects more than ${maxJsonDepth} deep`));
        return;
      }
      let body: unknown;
      let parseError: Error | null = null;
      options.parseJson(text, (error, value) => {
        parseError = error;
        body = value;
      });
      if (parseError !== null) {
        fail(parseError);
        return;
      }
      options.publish({ headers, body, rawBody: text, route }).then(succeed, fail);
    });
    return true;
  };
}
