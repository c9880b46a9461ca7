import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { ERRORS, HubError } from "../errors.js";
import type { Hub } from "../hub.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerStreamRoutes } from "./routes/streams.js";
import { registerTopicRoutes } from "./routes/topics.js";

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
}

const CLOUDEVENTS_TYPES = ["application/cloudevents+json", "application/cloudevents-batch+json"];
const ANY_JSON_TYPE = /^application\/[a-z0-9.+-]+\+json$/;

/**
 * Builds the HTTP app. Only `main` listens; tests call `inject()` or listen on port 0.
 * Routes are thin: parse, call one domain function, shape the reply.
 */
export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { hub } = options;
  const { config } = hub;
  const fastify = Fastify({
    loggerInstance: (options.log ?? hub.log) as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    forceCloseConnections: "idle",
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
  });
  const app: App = { fastify, lifecycle: "starting" };

  // JSON of every flavour goes through fastify's parser, which refuses __proto__ and constructor.prototype keys.
  const jsonParser = fastify.getDefaultJsonParser("error", "error");
  fastify.addContentTypeParser(CLOUDEVENTS_TYPES, { parseAs: "string" }, jsonParser);
  fastify.addContentTypeParser(ANY_JSON_TYPE, { parseAs: "string" }, jsonParser);

  fastify.addHook("onRequest", async (request, reply) => {
    if (app.lifecycle === "draining" && !request.url.startsWith("/health") && !request.url.startsWith("/ready")) {
      reply.header("connection", "close");
      throw new HubError("SB_SHUTTING_DOWN", "the hub is shutting down; retry on another node or shortly");
    }
  });
  // One log line per request.
  fastify.addHook("onResponse", async (request, reply) => {
    request.log.info(
      { req: { method: request.method, url: request.url }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
      "request completed",
    );
  });

  fastify.setErrorHandler((error: FastifyError | HubError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const hubErr = toHubError(error);
    if (hubErr.status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.info({ code: hubErr.code, details: hubErr.details }, "request rejected");
    void reply.status(hubErr.status).send(hubErr.toBody());
  });
  fastify.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(new HubError("SB_ROUTE_NOT_FOUND", `no route for ${request.method} ${request.url.split("?")[0]}`).toBody());
  });

  registerHealthRoutes(fastify, hub, app);
  registerEventRoutes(fastify, hub);
  registerTopicRoutes(fastify, hub);
  registerStreamRoutes(fastify, hub);
  return app;
}

/** Maps anything thrown in a request to a catalog error; unknown errors become a 500 that leaks nothing. */
export function toHubError(error: unknown): HubError {
  if (error instanceof HubError) return error;
  const e = error as FastifyError & { status?: number };
  const status = e.statusCode ?? e.status;
  switch (e.code) {
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
