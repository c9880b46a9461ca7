import type { FastifyInstance } from "fastify";
import { destinationKinds, type DestinationRouter } from "../../delivery/destinations/index.js";
import { adminOnly } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { DestinationsOut } from "../schemas/responses.js";

/** What {@link registerDestinationRoutes} uses. */
export interface DestinationRoutesOptions {
  destinations: Pick<DestinationRouter, "health">;
  basePath: string;
}

/**
 * `GET BASE_PATH/destinations` (admin): the destination kinds with their url schemes, and every broker endpoint in
 * use on this node with its state and last error. `/ready` shows the endpoints without hosts or errors when auth is
 * on (it is unauthenticated); this is the full view.
 */
export function registerDestinationRoutes(fastify: FastifyInstance, { destinations, basePath }: DestinationRoutesOptions): void {
  const doc = documented({
    summary: "Destination kinds, and the broker endpoints in use on this node",
    replies: [{ status: 200, description: "Kinds and endpoints.", schema: DestinationsOut }],
  });
  fastify.get(`${basePath}/destinations`, { onRequest: adminOnly, ...doc }, async () => ({ kinds: destinationKinds(), endpoints: destinations.health() }));
}
