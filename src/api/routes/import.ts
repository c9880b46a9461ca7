import type { FastifyInstance } from "fastify";
import { documented } from "../openapi/route-doc.js";
import { ImportResult } from "../schemas/responses.js";
import type { Ingestor } from "../../ingest/ingestor.js";
import { eventsForImport } from "../../ingest/normalize.js";
import { adminOnly } from "../auth.js";
import type { RequestWithRawBody } from "../build-app.js";
import { ImportBody } from "../schemas/events.js";

/** What {@link registerImportRoute} uses. */
export interface ImportRouteOptions {
  ingestor: Ingestor;
  maxBatchEvents: number;
  basePath: string;
}

/**
 * `POST BASE_PATH/events/import` (admin): events with their own ids (an export's envelopes, as a JSON array or
 * NDJSON), stored through the ingestor in commits of at most `maxBatchEvents`. An id that is stored already is
 * skipped, whoever published it, so importing a file twice stores it once. Answers `{imported, skipped}`.
 */
export function registerImportRoute(fastify: FastifyInstance, { ingestor, maxBatchEvents, basePath }: ImportRouteOptions): void {
  const doc = documented({
    summary: "Import events with their ids (an export)",
    replies: [{ status: 200, description: "How many were stored, and how many were there already.", schema: ImportResult }],
    bodyTypes: ["application/x-ndjson"],
    errors: ["SB_EVENT_INVALID", "SB_STORE_FULL"],
  });
  fastify.post(`${basePath}/events/import`, { onRequest: adminOnly, schema: { body: ImportBody }, ...doc }, async (request) => {
    const rawBody = (request as RequestWithRawBody).rawBody;
    const events = eventsForImport(request.body, { receivedAt: Date.now(), maxBatchEvents, rawBody });
    let imported = 0;
    // No publisher: an import is the admin's, and a repeated id is skipped rather than checked against its owner.
    for (let i = 0; i < events.length; i += maxBatchEvents) imported += (await ingestor.publish(events.slice(i, i + maxBatchEvents))).stored;
    return { imported, skipped: events.length - imported };
  });
}
