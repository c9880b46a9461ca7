import type { FastifyInstance, FastifyReply } from "fastify";
import type { Authenticator } from "../../auth/authenticator.js";
import { Type } from "typebox";
import type { Config } from "../../config.js";
import { destinationsReadiness, type DestinationRouter } from "../../delivery/destinations/index.js";
import type { StreamHub } from "../../delivery/sse/stream-hub.js";
import { ERRORS, HubError } from "../../errors.js";
import type { HubMetrics } from "../../metrics.js";
import type { Store } from "../../store/store.js";
import type { App } from "../build-app.js";
import { documented } from "../openapi/route-doc.js";
import { HealthOut, ReadyOut } from "../schemas/responses.js";

/** What {@link registerHealthRoutes} uses. */
export interface HealthRoutesOptions {
  store: Pick<Store, "ping" | "dialect">;
  streams: Pick<StreamHub, "size">;
  /** Broker endpoints in use, reported by `/ready`. */
  destinations: DestinationRouter;
  metrics: HubMetrics;
  /** With auth off, `/ready` shows broker hosts and errors. */
  auth: Pick<Authenticator, "enabled">;
  basePath: string;
  role: Config["role"];
}

/**
 * `/health` (200 when the store answers), `/ready` (503 while starting or draining, or when the store does not answer), `/metrics`; and `BASE_PATH/health`
 * on nodes that serve the API (a `worker` node serves only the first three).
 */
export function registerHealthRoutes(fastify: FastifyInstance, hub: HealthRoutesOptions, app: App): void {
  const health = async (_: unknown, reply: FastifyReply) => {
    try {
      await hub.store.ping();
    } catch (error) {
      throw new HubError("SB_STORE_UNAVAILABLE", `the store does not answer: ${(error as Error).message}`);
    }
    return reply.send({ status: "ok", store: hub.store.dialect, streams: hub.streams.size });
  };
  const healthDoc = documented({
    summary: "Whether the store answers",
    replies: [{ status: 200, description: "The store answered.", schema: HealthOut }],
    errors: ["SB_STORE_UNAVAILABLE"],
  });
  fastify.get("/health", healthDoc, health);
  if (hub.basePath !== "" && hub.role !== "worker") fastify.get(`${hub.basePath}/health`, healthDoc, health);

  const readyDoc = documented({
    summary: "Whether this node takes traffic",
    replies: [
      { status: 200, description: "Ready; with the broker endpoints in use.", schema: ReadyOut },
      { status: 503, description: "Starting, draining, or the store does not answer: `{status}`.", schema: ReadyOut },
    ],
  });
  fastify.get("/ready", readyDoc, async (_, reply) => {
    if (app.lifecycle !== "ready") return reply.status(503).send({ status: app.lifecycle });
    // A node whose database is away can take no publish: the load balancer should send them elsewhere meanwhile.
    try {
      await hub.store.ping();
    } catch {
      return reply.status(503).header("retry-after", String(ERRORS.SB_STORE_UNAVAILABLE.retryAfterS)).send({ status: "store_unavailable" });
    }
    return reply.send({ status: "ready", ...destinationsReadiness(hub.destinations, !(await hub.auth.enabled())) });
  });

  const metricsDoc = documented({
    summary: "Prometheus metrics",
    replies: [{ status: 200, description: "The text exposition format.", contentType: "text/plain", schema: Type.String() }],
  });
  fastify.get("/metrics", metricsDoc, async (_, reply) => {
    const body = await hub.metrics.registry.metrics();
    return reply.type(hub.metrics.registry.contentType).send(body);
  });
}
