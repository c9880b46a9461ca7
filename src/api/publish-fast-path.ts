import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { ERRORS, HubError, type ErrorSpec } from "../errors.js";
import type { Credential } from "../auth/index.js";
import { bearerOfHeader, CONSOLE_HEADER, redactUrl, requireCredentialScope } from "./auth.js";
import { readJsonBody, type JsonParser } from "./json-body.js";
import type { IngestRoute, PublishInput, PublishOutcome } from "./routes/events.js";

/**
 * The lean path of the publish routes (`POST BASE_PATH/events`, `/topics/:topic/events`, `/messages`): a `node:http`
 * handler ahead of fastify's, for the plain case only. It answers what fastify would (the same publisher, the same
 * `{error, details, code}` bodies, the same log lines) without fastify's request and reply objects, router and hooks,
 * which cost about as much CPU per request as the publish itself. With auth on it checks what fastify's hooks check,
 * through the same functions: the bearer token (`credentialOfToken`, 401 with `WWW-Authenticate`), the publish rate
 * limit (`Limits.takePublish`, 429 with `Retry-After`), then the `publish:<topic>` scopes (403), and it passes the
 * credential's id as the publisher. Every request it cannot answer cheaply goes to fastify untouched: auth not known
 * to be on or off (the key cache expired), a request carrying the console's header (its cookie may authenticate it),
 * a CORS origin, a query string other than `/events?topic=<plain topic>`, a path parameter with escapes, a body
 * without Content-Length or over the limit, a content type other than `application/json` and CloudEvents structured
 * or batch mode, CloudEvents binary mode, and any request while starting or draining.
 */

/** What {@link createPublishFastPath} needs of the app. */
export interface PublishFastPathOptions {
  basePath: string;
  bodyLimit: number;
  maxJsonDepth: number;
  log: Logger;
  /** Whether the path may answer now: the app is ready (not starting, draining or closing). */
  open: () => boolean;
  /** Whether requests need a credential, when known without asking the store (`Authenticator.enabledNow`). */
  authEnabled: () => boolean | undefined;
  /** The credential of an API key verified before and known still valid, without a promise (`Authenticator.knownCredential`). */
  knownCredential: (token: string) => Credential | undefined;
  /** The credential of a bearer token, or the 401 thrown with `WWW-Authenticate` set (auth.ts's `credentialOfToken`). */
  authenticate: (token: string | undefined, setHeader: (name: string, value: string) => void) => Promise<Credential>;
  /** Takes a publish token for the credential, or gives the 429 with `Retry-After` set (limits.ts's `Limits.takePublish`). */
  takePublish: (credentialId: string, setHeader: (name: string, value: string) => void) => HubError | undefined;
  /** Whether CORS is configured: requests with an `Origin` then go to fastify. */
  cors: boolean;
  /** The next request id, from the counter fastify uses too. */
  genReqId: () => string;
  /** Whether the app is draining, for `connection: close` on replies in flight. */
  draining: () => boolean;
  /** fastify's JSON parser (prototype poisoning refused), so errors read the same. */
  parseJson: JsonParser;
  /** The publisher (routes/events.ts's `createPublisher`): a publish settled at once is answered without a promise. */
  publish: (input: PublishInput) => PublishOutcome | Promise<PublishOutcome>;
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
/** The content types taken (parameters such as `charset` aside): plain JSON, and CloudEvents structured and batch mode. */
const TAKEN_TYPES = ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"];

/** Whether a Content-Type is one of {@link TAKEN_TYPES}, exactly or followed by `;` and parameters. */
function isTakenType(type: string): boolean {
  for (const taken of TAKEN_TYPES) {
    if (type === taken || (type.startsWith(taken) && type.charCodeAt(taken.length) === 0x3b)) return true;
  }
  return false;
}

/** The publish route a URL names, when the router would match it with nothing to decode; else undefined. */
function publishRouteOf(basePath: string): (url: string) => IngestRoute | undefined {
  const eventsPath = `${basePath}/events`;
  const eventsTopicQuery = `${eventsPath}?topic=`;
  const messagesPath = `${basePath}/messages`;
  const topicsPrefix = `${basePath}/topics/`;
  const plain: IngestRoute = {};
  const messages: IngestRoute = { envelopeRequired: true };
  return (url) => {
    if (url === eventsPath) return plain;
    // `?topic=` alone, with nothing to decode: the route's topic, as the fastify route reads it from the query.
    if (url.startsWith(eventsTopicQuery)) {
      const topic = url.slice(eventsTopicQuery.length);
      return topic.length <= MAX_TOPIC_LENGTH && PLAIN_SEGMENT.test(topic) ? { topic } : undefined;
    }
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
  const routeOf = publishRouteOf(options.basePath);
  return (req, res) => {
    if (req.method !== "POST") return false;
    const route = routeOf(req.url!);
    if (route === undefined || !options.open()) return false;
    const { headers } = req;
    const type = headers["content-type"];
    if (type === undefined || !isTakenType(type)) return false;
    if (headers["ce-specversion"] !== undefined || headers["transfer-encoding"] !== undefined) return false;
    if (options.cors && headers.origin !== undefined) return false;
    const length = Number(headers["content-length"]);
    if (!(length > 0 && length <= options.bodyLimit)) return false;
    const authOn = options.authEnabled();
    // The console's header lets its cookie stand in for the bearer token: fastify's auth hook reads it.
    if (authOn === undefined || (authOn && headers[CONSOLE_HEADER] !== undefined)) return false;
    answerPublish(options, req, res, route, authOn);
    return true;
  };
}

/** One publish the lean path took: auth (when on), the body, the publisher, the answer. */
function answerPublish(options: PublishFastPathOptions, req: IncomingMessage, res: ServerResponse, route: IngestRoute, authOn: boolean): void {
  const { headers } = req;
  const answer = answerer(options, req, res);
  // Auth on: the credential, then its publish token, before the body is looked at (fastify's onRequest and preParsing
  // hooks run in that order, before its body parser); the body is read meanwhile.
  let credential: Credential | undefined;
  let refused = false;
  let authorized: Promise<void> | undefined;
  if (authOn) {
    const admit = (found: Credential) => {
      const limited = options.takePublish(found.id, answer.setHeader);
      if (limited !== undefined) throw limited;
      credential = found;
    };
    const refuse = (error: unknown) => {
      refused = true;
      answer.fail(error);
    };
    const token = headers.authorization === undefined ? undefined : bearerOfHeader(headers.authorization);
    const known = token === undefined ? undefined : options.knownCredential(token);
    if (known === undefined) authorized = options.authenticate(token, answer.setHeader).then(admit).catch(refuse);
    else {
      // A key verified before: no promise, as with auth off.
      try {
        admit(known);
      } catch (error) {
        refuse(error);
      }
    }
  }

  const chunks: Buffer[] = [];
  let received = 0;
  req.on("data", (chunk: Buffer) => {
    received += chunk.length;
    chunks.push(chunk);
  });
  req.on("error", (error: Error & { statusCode?: number }) => {
    // As fastify's body reader: an error of the request stream is a 400 unless it says otherwise.
    if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
    answer.fail(error);
  });
  const publish = () => {
    if (refused || res.headersSent) return;
    const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, received).toString("utf8");
    const { text: rawBody, body } = readJsonBody(text, options.maxJsonDepth, options.parseJson);
    const input: PublishInput = { headers, route, body, rawBody };
    if (credential !== undefined) {
      input.requireScopes = scopeCheckOf(credential);
      input.publisher = credential.id;
    }
    const outcome = options.publish(input);
    if (outcome instanceof Promise) outcome.then(answer.succeed, answer.fail);
    else answer.succeed(outcome);
  };
  req.on("end", () => {
    // Nothing thrown here may escape (it would end the process): a refusal thrown is answered.
    if (authorized !== undefined) {
      authorized.then(publish).catch(answer.fail);
      return;
    }
    try {
      publish();
    } catch (error) {
      answer.fail(error);
    }
  });
}

/**
 * The publish scope check of a credential, made outside the request's closures. Written as an arrow function in
 * `publish` above, it shared the request's closure context (its body chunks, `req`, `res`): with auth on, the young
 * generation's collections then took 8–11 ms instead of 1–2 ms, and old space grew by some 20 MB a second.
 */
function scopeCheckOf(credential: Credential): (scopes: string[]) => void {
  return (scopes) => requireCredentialScope(credential, scopes);
}

/** The replies of one request, with its log line, as fastify's error handler and hooks write them. */
function answerer(options: PublishFastPathOptions, req: IncomingMessage, res: ServerResponse) {
  const { log } = options;
  const started = performance.now();
  const reqId = options.genReqId();
  /** Headers the checks set for a refusal (`WWW-Authenticate`, `Retry-After`), as fastify's hooks set them on the reply. */
  let extra: Record<string, string> | undefined;
  const setHeader = (name: string, value: string) => {
    (extra ??= {})[name] = value;
  };
  const reply = (status: number, body: string, headers?: Record<string, string>) => {
    const head: Record<string, string | number> = { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) };
    if (headers !== undefined) Object.assign(head, headers);
    // A request in flight when draining began: its connection closes after the reply (as build-app's onSend does).
    if (options.draining()) head.connection = "close";
    res.writeHead(status, head).end(body);
    const level = publishLogLevel(status);
    if (log.isLevelEnabled(level)) {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      log[level]({ reqId, method: "POST", url: redactUrl(req.url!), status, ms }, "request completed");
    }
  };
  const fail = (error: unknown) => {
    // One answer per request: a refusal may have been sent already (a 401 before the body ended, then a stream error).
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    const hubErr = options.toHubError(error);
    if (hubErr.status >= 500) log.error({ reqId, err: error }, "request failed");
    else log.info({ reqId, code: hubErr.code, details: hubErr.details }, "request rejected");
    // As fastify's error handler: the catalog's Retry-After unless a check set one.
    const retryAfterS = (ERRORS[hubErr.code] as ErrorSpec).retryAfterS;
    if (retryAfterS !== undefined && extra?.["retry-after"] === undefined) setHeader("retry-after", String(retryAfterS));
    reply(hubErr.status, JSON.stringify(hubErr.toBody()), extra);
  };
  const succeed = (outcome: PublishOutcome) => {
    try {
      reply(201, JSON.stringify(outcome.reply), outcome.replayed ? { "idempotent-replayed": "true" } : undefined);
    } catch (error) {
      fail(error);
    }
  };
  return { setHeader, fail, succeed };
}
