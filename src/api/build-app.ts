import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import { ERRORS, HubError, type ErrorSpec } from "../errors.js";
import type { Hub } from "../hub.js";
import { credentialOfToken, openRoutes, redactUrl, registerAuth } from "./auth.js";
import { readJsonBody, type JsonParser } from "./json-body.js";
import { isLingering, lingerOnClose, lingerThenClose, type LingerOptions } from "./lingering-close.js";
import { MAX_URL_LENGTH, registerLimits, type Limits } from "./limits.js";
import { listSetting } from "../config.js";
import { collectRoutes, type CollectedRoute } from "./openapi/document.js";
import { createPublishFastPath, publishLogLevel } from "./publish-fast-path.js";
import { createPublisher, registerEventRoutes } from "./routes/events.js";
import { CONSOLE_DIR, consoleOpenPaths, isConsolePage, loadConsole, registerConsoleRoutes, sendConsoleIndex, type ConsoleSite } from "./routes/console.js";
import { registerDestinationRoutes } from "./routes/destinations.js";
import { registerImportRoute } from "./routes/import.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerKeyRoutes } from "./routes/keys.js";
import { registerSessionRoutes } from "./routes/session.js";
import { registerStatsRoutes } from "./routes/stats.js";
import { registerAggregateRoutes } from "./routes/aggregates.js";
import { registerReferenceRoutes } from "./routes/reference.js";
import { registerStreamRoutes } from "./routes/streams.js";
import { registerSubscriptionRoutes } from "./routes/subscriptions.js";
import { registerTopicRoutes } from "./routes/topics.js";
import { createValidatorCompiler } from "./validation.js";

/** A request whose JSON body text was kept by the parser. */
export interface RequestWithRawBody {
  rawBody?: string;
}

/** Lifecycle as `/ready` reports it. */
export type Lifecycle = "starting" | "ready" | "draining";

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  hub: Hub;
  /** Request logger; defaults to the hub's. */
  log?: Logger;
}

/** The fastify app with the hub's routes, and the switch `/ready` reads. */
export interface App {
  fastify: FastifyInstance;
  /** Current lifecycle; set to `ready` once listening and `draining` on shutdown. */
  lifecycle: Lifecycle;
  /** Every route registered, as the OpenAPI document is generated from them. */
  routes: CollectedRoute[];
}

/** Longest path parameter (a topic name, an id) the router matches; a longer one gets 414. */
const MAX_PARAM_LENGTH = 256;
const CLOUDEVENTS_TYPES = ["application/cloudevents+json", "application/cloudevents-batch+json"];
const ANY_JSON_TYPE = /^application\/[a-z0-9.+-]+\+json$/;

/**
 * Builds the HTTP app. Only `main` listens; tests call `inject()` or listen on port 0.
 * Routes are thin: parse, call one domain function, shape the reply.
 */
export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { hub } = options;
  const { config } = hub;
  const log = options.log ?? hub.log;
  const linger: LingerOptions = { maxBytes: config.lingerMaxBytes, maxMs: config.lingerMaxMs };
  const genReqId = requestIds();
  // fastify's own logger is off: it would build a child logger per request. The hooks below write one line per
  // request through the hub's logger, with the request id.
  const fastify = Fastify({
    logger: false,
    genReqId,
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    // Node cuts late requests only when its connection check runs (every 30 s by default), and with headersTimeout
    // left at 60 s it swapped the two timeouts: a half-sent body was cut after 60-90 s, half-sent headers after up to
    // 30 s. One timeout for headers and body, checked often enough to hold to it.
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: requestCheckIntervalMs(config.requestTimeoutMs),
    },
    clientErrorHandler(error, socket) {
      answerClientError(error, socket, log, config.requestTimeoutMs, linger);
    },
    keepAliveTimeout: config.keepAliveTimeoutMs,
    forceCloseConnections: "idle",
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // Router errors (a bad %-escape, a path parameter over maxParamLength) get the catalog's body, not fastify's.
    frameworkErrors: (error, request, reply) => {
      const hubErr = request.url.length > MAX_URL_LENGTH ? urlTooLong(request.url.length) : toHubError(error);
      void (reply as FastifyReply).status(hubErr.status).send(hubErr.toBody());
    },
  });
  const app: App = { fastify, lifecycle: "starting", routes: [] };

  // Route schemas (schemas/) are checked by the hub's compiler, which answers the error catalog's bodies.
  fastify.setValidatorCompiler(createValidatorCompiler());
  registerJsonParsers(fastify, config.maxJsonDepth);
  // The console is for nodes that serve the API; `SWITCHBOARD_CONSOLE=false` turns it off.
  const site = config.console && config.role !== "worker" ? loadConsole(CONSOLE_DIR, config.basePath) : undefined;
  registerRequestHooks(fastify, app, { log, linger, basePath: config.basePath }, (request) => isConsolePage(site, request, config.basePath) && site);
  // Before the limits: they count by request.credentialId.
  registerAuth(fastify, hub, { paths: consoleOpenPaths(site), isOpen: (request) => isConsolePage(site, request, config.basePath) });
  const limits = registerLimits(fastify, hub);
  // Every route from here on goes into the OpenAPI document.
  const routes = collectRoutes(fastify, app.routes);

  // Each route module gets the parts of the hub it uses.
  const { basePath } = config;
  const { store, streams, metrics, subscriptions } = hub;
  registerHealthRoutes(fastify, { store, streams, metrics, destinations: hub.destinations, auth: hub.auth, basePath, role: config.role }, app);
  // A `worker` node delivers webhooks only: its HTTP server is for probes and metrics.
  if (config.role === "worker") return app;
  const streamParts = { streams, metrics, log: hub.log, basePath };
  registerEventRoutes(fastify, {
    ...streamParts,
    ingestor: hub.ingestor,
    store,
    subscriptions,
    maxBatchEvents: config.maxBatchEvents,
    captureHeaders: listSetting(config.captureHeaders),
  });
  installPublishFastPath(fastify, app, { hub, log, genReqId, limits });
  registerImportRoute(fastify, { ingestor: hub.ingestor, maxBatchEvents: config.maxBatchEvents, basePath });
  registerTopicRoutes(fastify, { topics: hub.topics, basePath });
  registerDestinationRoutes(fastify, { destinations: hub.destinations, basePath });
  registerStreamRoutes(fastify, streamParts);
  registerSubscriptionRoutes(fastify, { subscriptions, destination: hub.destinations, now: Date.now, basePath });
  registerKeyRoutes(fastify, { store, auth: hub.auth, basePath });
  registerStatsRoutes(fastify, { store, metrics, basePath, rollups: config.rollups });
  registerAggregateRoutes(fastify, { aggregates: hub.aggregates, basePath });
  registerSessionRoutes(fastify, { auth: hub.auth, basePath });
  if (site) registerConsoleRoutes(fastify, site);
  registerReferenceRoutes(fastify, { routes, openRoutes: openRoutes(basePath), basePath });
  return app;
}

/** fastify's default request ids (`req-1`, `req-2`…), from a counter that the lean publish path shares. */
function requestIds(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

/**
 * Puts the lean publish path (publish-fast-path.ts) ahead of fastify's handler on the app's server. It answers only
 * while the app is ready (not starting, draining or closing), with the auth hook's credential check and the publish
 * rate limit that `limits` holds; any other request, and every request through `inject()`, is fastify's.
 */
function installPublishFastPath(
  fastify: FastifyInstance,
  app: App,
  { hub, log, genReqId, limits }: { hub: Hub; log: Logger; genReqId: () => string; limits: Limits },
): void {
  const { config } = hub;
  let closing = false;
  fastify.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  const defaultJsonParser = fastify.getDefaultJsonParser("error", "error");
  const fastPath = createPublishFastPath({
    basePath: config.basePath,
    bodyLimit: config.bodyLimitBytes,
    maxJsonDepth: config.maxJsonDepth,
    log,
    cors: config.corsOrigins.trim() !== "",
    genReqId,
    publish: createPublisher({ ingestor: hub.ingestor, maxBatchEvents: config.maxBatchEvents, captureHeaders: listSetting(config.captureHeaders) }),
    open: () => app.lifecycle === "ready" && !closing,
    authEnabled: () => hub.auth.enabledNow(),
    knownCredential: (token) => hub.auth.knownCredential(token),
    authenticate: (token, setHeader) => credentialOfToken(hub.auth, token, false, setHeader),
    takePublish: limits.takePublish,
    draining: () => app.lifecycle === "draining",
    parseJson: (text, done) => defaultJsonParser({} as FastifyRequest, text, done),
    toHubError,
  });
  const server = fastify.server;
  const [fastifyHandler] = server.listeners("request") as RequestListener[];
  if (fastifyHandler === undefined) return;
  server.removeListener("request", fastifyHandler);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (!fastPath(req, res)) fastifyHandler(req, res);
  });
}

/**
 * JSON of every flavour goes through fastify's parser, which refuses __proto__ and constructor.prototype keys (text
 * that cannot hold such a key is parsed without it: see json-body.ts).
 * The raw text is kept too, so that event data is stored exactly as posted (see ingest/raw-json.ts).
 */
function registerJsonParsers(fastify: FastifyInstance, maxJsonDepth: number): void {
  const defaultJsonParser = fastify.getDefaultJsonParser("error", "error");
  const parseJson: JsonParser = (text, done) => defaultJsonParser({} as FastifyRequest, text, done);
  // A BOM, nesting and prototype keys are handled as on the lean publish path: one readJsonBody (json-body.ts).
  const jsonParser: typeof defaultJsonParser = (request, text, done) => {
    let read;
    try {
      read = readJsonBody(text as string, maxJsonDepth, parseJson);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    (request as RequestWithRawBody).rawBody = read.text;
    done(null, read.body);
  };
  fastify.removeContentTypeParser("application/json");
  fastify.addContentTypeParser("application/json", { parseAs: "string" }, jsonParser);
  fastify.addContentTypeParser(CLOUDEVENTS_TYPES, { parseAs: "string" }, jsonParser);
  fastify.addContentTypeParser(ANY_JSON_TYPE, { parseAs: "string" }, jsonParser);
  // NDJSON (imports): one JSON value a line, read as the array of them; each line is checked apart so an error names it.
  fastify.addContentTypeParser("application/x-ndjson", { parseAs: "string" }, (request, text, done) => {
    if (!request.routeOptions.url?.endsWith("/events/import")) {
      done(new HubError("SB_REQUEST_UNSUPPORTED_MEDIA_TYPE", "application/x-ndjson is taken by /events/import only; send application/json"), undefined);
      return;
    }
    const lines = (text as string).split("\n").filter((line) => line.trim() !== "");
    for (const [i, line] of lines.entries()) {
      try {
        JSON.parse(line);
      } catch (error) {
        done(new HubError("SB_REQUEST_INVALID_JSON", `line ${i + 1} is not JSON: ${(error as Error).message}`), undefined);
        return;
      }
    }
    jsonParser(request, `[${lines.join(",")}]`, done);
  });
}

/** The publish routes, under BASE_PATH. */
const PUBLISH_ROUTES = ["/events", "/topics/:topic/events", "/messages"];

/** Statuses that refuse a request for its size: when it was not read in full, its connection is closed after a linger. */
const SIZE_REFUSALS = new Set([413, 414, 431]);

/**
 * URL length, drain handling, lingering close, one log line per request, and the catalog's bodies for errors and
 * unknown routes, except the console's pages (`consolePage` gives the site for those), which get its `index.html`.
 */
function registerRequestHooks(
  fastify: FastifyInstance,
  app: App,
  { log, linger, basePath }: { log: Logger; linger: LingerOptions; basePath: string },
  consolePage: (request: FastifyRequest) => ConsoleSite | false | undefined,
): void {
  const publishRoutes = new Set(PUBLISH_ROUTES.map((path) => basePath + path));
  // Callback-style hooks: an async hook costs a promise per request on the hot path.
  fastify.addHook("onRequest", (request, reply, done) => {
    // Before auth and routing's hooks, on every route and on unknown ones alike. (Past Node's header limit, 16 KiB with
    // the headers, the request line never gets here: see clientErrorToHubError.)
    if (request.url.length > MAX_URL_LENGTH) {
      done(urlTooLong(request.url.length));
      return;
    }
    if (app.lifecycle === "draining" && !request.url.startsWith("/health") && !request.url.startsWith("/ready")) {
      reply.header("connection", "close");
      done(new HubError("SB_SHUTTING_DOWN", "the hub is shutting down; retry on another node or shortly"));
      return;
    }
    done();
  });
  // Requests already in flight when draining began: close their connections after the reply, or the server's close
  // would wait on them as idle keep-alive connections until the shutdown grace period ran out (exit 1).
  fastify.addHook("onSend", (request, reply, payload, done) => {
    if (app.lifecycle === "draining") reply.header("connection", "close");
    // A request refused before its body was read in full: Node would close the connection on the client still sending
    // it (fastify asks for the close on a body over the limit), and the client would see a reset, not this reply.
    // Closed after a bounded linger instead; any other refusal keeps the connection, and Node reads the rest of the body.
    if (!request.raw.complete && (SIZE_REFUSALS.has(reply.statusCode) || /close/i.test(String(reply.getHeader("connection") ?? "")))) {
      reply.header("connection", "close");
      lingerOnClose(request.raw.socket, linger);
    }
    done(null, payload);
  });
  // One log line per request; a publish that succeeded at debug (see publishLogLevel).
  fastify.addHook("onResponse", (request, reply, done) => {
    const status = reply.statusCode;
    const level = request.method === "POST" && publishRoutes.has(request.routeOptions.url ?? "") ? publishLogLevel(status) : "info";
    if (log.isLevelEnabled(level)) {
      log[level](
        { reqId: request.id, method: request.method, url: redactUrl(request.url), status, ms: Math.round(reply.elapsedTime * 100) / 100 },
        "request completed",
      );
    }
    done();
  });

  fastify.setErrorHandler((error: FastifyError | HubError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const hubErr = toHubError(error);
    if (hubErr.status >= 500) log.error({ reqId: request.id, err: error }, "request failed");
    else log.info({ reqId: request.id, code: hubErr.code, details: hubErr.details }, "request rejected");
    const retryAfterS = (ERRORS[hubErr.code] as ErrorSpec).retryAfterS;
    if (retryAfterS !== undefined && !reply.hasHeader("retry-after")) reply.header("retry-after", String(retryAfterS));
    void reply.status(hubErr.status).send(hubErr.toBody());
  });
  fastify.setNotFoundHandler((request, reply) => {
    const site = consolePage(request);
    if (site) return sendConsoleIndex(site, request, reply);
    void reply.status(404).send(new HubError("SB_ROUTE_NOT_FOUND", `no route for ${request.method} ${request.url.split("?")[0]}`).toBody());
  });
}

/** How often Node looks for requests past the timeout: every tenth of it, at most every second. */
function requestCheckIntervalMs(requestTimeoutMs: number): number {
  return Math.max(10, Math.min(1_000, Math.ceil(requestTimeoutMs / 10)));
}

/** After other errors (a timeout, bytes that are not HTTP), a client that keeps its side open is cut off this soon. */
const CLIENT_ERROR_LINGER_MS = 1_000;

/**
 * Errors Node raises outside any route (a request not received within the timeout, headers over Node's limit, bytes
 * that are not HTTP) get the catalog's body too, then the connection is closed. The reply is written only when no
 * response has begun on the socket; then it is sent before the FIN and what the client still sends is read and
 * discarded for a while (see lingering-close.ts), so a client still sending is not reset before it can read it.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket, log: Logger, requestTimeoutMs: number, linger: LingerOptions): void {
  // Once lingering, the parser goes on failing on the discarded bytes: the client has its answer already.
  if (error.code === "ECONNRESET" || socket.destroyed || isLingering(socket)) return;
  const hubErr = clientErrorToHubError(error, requestTimeoutMs);
  log.info({ code: hubErr.code, details: hubErr.details, remote: socket.remoteAddress }, "request rejected");
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(hubErr.toBody());
  socket.write(
    `HTTP/1.1 ${hubErr.status} ${STATUS_CODES[hubErr.status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  lingerThenClose(socket, SIZE_REFUSALS.has(hubErr.status) ? linger : { ...linger, maxMs: Math.min(linger.maxMs, CLIENT_ERROR_LINGER_MS) });
}

function clientErrorToHubError(error: Error & { code?: string; rawPacket?: Buffer }, requestTimeoutMs: number): HubError {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new HubError("SB_REQUEST_TIMEOUT", `the request was not received in full within ${requestTimeoutMs} ms`);
    case "HPE_HEADER_OVERFLOW":
      if (requestLineOverflows(error.rawPacket)) return urlTooLong(undefined);
      return new HubError("SB_REQUEST_HEADERS_TOO_LARGE", `the request line and headers are over ${maxHeaderSize} bytes`);
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return new HubError("SB_REQUEST_TOO_LARGE", "the chunk extensions are over 16 KiB");
    default:
      return new HubError("SB_REQUEST_INVALID", `malformed HTTP request (${error.code ?? error.message})`);
  }
}

/** 414 for a URL of `length` characters (unknown when Node's header limit cut it before it ended). */
function urlTooLong(length: number | undefined): HubError {
  const has = length === undefined ? `is over ${maxHeaderSize} bytes` : `has ${length} characters`;
  return new HubError("SB_REQUEST_URL_TOO_LONG", `the URL ${has}; at most ${MAX_URL_LENGTH} are allowed`);
}

/**
 * Whether Node's header limit was passed within the request line, as far as the bytes read when it was passed show:
 * they start with a method, and no line ends within the URL limit. (When the line arrived in several reads, the last
 * one holds only part of it, and the client gets 431.)
 */
function requestLineOverflows(packet: Buffer | undefined): boolean {
  if (packet === undefined || !/^[A-Z]{3,10} [^ \r\n]/.test(packet.subarray(0, 12).toString("latin1"))) return false;
  const eol = packet.indexOf("\r\n");
  return eol === -1 || eol > MAX_URL_LENGTH;
}

/** Maps anything thrown in a request to a catalog error; unknown errors become a 500 that leaks nothing. */
export function toHubError(error: unknown): HubError {
  if (error instanceof HubError) return error;
  const e = error as FastifyError & { status?: number };
  const status = e.statusCode ?? e.status;
  switch (e.code) {
    case "FST_ERR_MAX_PARAM_LENGTH":
      // Its message would echo the whole path.
      return new HubError("SB_REQUEST_URL_TOO_LONG", `a path parameter is over ${MAX_PARAM_LENGTH} characters`);
    case "FST_ERR_CTP_BODY_TOO_LARGE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new HubError("SB_REQUEST_TOO_LARGE", e.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new HubError("SB_REQUEST_UNSUPPORTED_MEDIA_TYPE", `${e.message}; send application/json`);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new HubError("SB_REQUEST_INVALID_JSON", "the body is empty; send a JSON value");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new HubError("SB_REQUEST_INVALID_JSON", e.message);
  }
  if (status === 413) return new HubError("SB_REQUEST_TOO_LARGE", e.message);
  if (status === 415) return new HubError("SB_REQUEST_UNSUPPORTED_MEDIA_TYPE", e.message);
  if (status === 408) return new HubError("SB_REQUEST_TIMEOUT", e.message);
  if (error instanceof SyntaxError || (status === 400 && /JSON|token|prototype|constructor/i.test(e.message))) {
    return new HubError("SB_REQUEST_INVALID_JSON", e.message);
  }
  if (status !== undefined && status >= 400 && status < 500) return new HubError("SB_REQUEST_INVALID", e.message);
  return new HubError("SB_INTERNAL", ERRORS.SB_INTERNAL.error, { cause: error });
}
