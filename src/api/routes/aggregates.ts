import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { ContinuousAggregates } from "../../aggregation/continuous-aggregates.js";
import { specOf } from "../../aggregation/continuous-spec.js";
import { MAX_STATS_BUCKETS, STATS_INTERVALS } from "../../aggregation/stats.js";
import { HubError } from "../../errors.js";
import { adminOnly } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { AggregateBackfillBody, AggregateCreateBody, AggregateNameParams, AggregateReadQuery } from "../schemas/aggregates.js";
import { ContinuousAggregateList, ContinuousAggregateOut, ContinuousAggregateRead } from "../schemas/responses.js";
import { emptyBodyAsObject } from "../schemas/common.js";
import { continuousAggregateOut, continuousBucketsOut } from "../wire/aggregates.js";
import { timeParam } from "../wire/events.js";

/** What {@link registerAggregateRoutes} uses. */
export interface AggregateRoutesOptions {
  aggregates: ContinuousAggregates;
  basePath: string;
  now?: () => number;
}

const DAY_MS = 86_400_000;

/** `BASE_PATH/aggregates`: continuous aggregates (admin), their buckets and their backfill. */
export function registerAggregateRoutes(instance: FastifyInstance, { aggregates, basePath, now = Date.now }: AggregateRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const base = `${basePath}/aggregates`;
  const admin = { onRequest: adminOnly };
  const named = { ...admin, schema: { params: AggregateNameParams } };
  const notFound = ["SB_AGGREGATE_NOT_FOUND"] as const;
  const one = (status: number, description: string) => [{ status, description, schema: ContinuousAggregateOut }];

  const createDoc = documented({
    summary: "Create a continuous aggregate, maintained at commit from now on",
    replies: one(201, "Created."),
    errors: ["SB_AGGREGATE_INVALID", "SB_AGGREGATE_EXISTS", "SB_FILTER_INVALID", "SB_FILTER_TOO_COSTLY"],
  });
  fastify.post(base, { ...admin, schema: { body: AggregateCreateBody }, ...createDoc }, async (request, reply) =>
    reply.status(201).send(continuousAggregateOut(await aggregates.create(request.body))),
  );
  const listDoc = documented({ summary: "List continuous aggregates", replies: [{ status: 200, description: "Every one.", schema: ContinuousAggregateList }] });
  fastify.get(base, { ...admin, ...listDoc }, async () => ({ data: (await aggregates.list()).map(continuousAggregateOut) }));

  const readDoc = documented({
    summary: "A continuous aggregate and its buckets",
    replies: [{ status: 200, description: "The definition, the backfill's progress and the buckets.", schema: ContinuousAggregateRead }],
    errors: [...notFound, "SB_QUERY_INVALID", "SB_QUERY_INVALID_TIME"],
  });
  fastify.get(`${base}/:name`, { ...admin, schema: { params: AggregateNameParams, querystring: AggregateReadQuery }, ...readDoc }, async (request) => {
    const { name } = request.params;
    const intervalMs = STATS_INTERVALS[specOf(await aggregates.get(name)).interval]!;
    const to = request.query.to === undefined ? now() + 1 : timeParam("to", request.query.to);
    const from = request.query.from === undefined ? to - DAY_MS : timeParam("from", request.query.from);
    const start = Math.floor(from / intervalMs) * intervalMs;
    if ((to - start) / intervalMs > MAX_STATS_BUCKETS) {
      throw new HubError("SB_QUERY_INVALID", `from..to spans more than ${MAX_STATS_BUCKETS} buckets of the aggregate's interval; narrow the range`);
    }
    const { aggregate, buckets } = await aggregates.read(name, start, to);
    return { ...continuousAggregateOut(aggregate), buckets: continuousBucketsOut(buckets) };
  });

  const deleteDoc = documented({
    summary: "Delete a continuous aggregate and its buckets",
    replies: [{ status: 204, description: "Deleted." }],
    errors: notFound,
  });
  fastify.delete(`${base}/:name`, { ...named, ...deleteDoc }, async (request, reply) => {
    await aggregates.delete(request.params.name);
    return reply.status(204).send();
  });

  const backfillDoc = documented({
    summary: "Backfill a continuous aggregate over the events stored before it was created, in the background",
    replies: one(202, "Started; its progress is on GET."),
    errors: [...notFound, "SB_AGGREGATE_BACKFILL_RUNNING", "SB_QUERY_INVALID_TIME"],
    bodyOptional: true,
  });
  const backfillSchema = { params: AggregateNameParams, body: AggregateBackfillBody };
  fastify.post(`${base}/:name/backfill`, { ...admin, preValidation: emptyBodyAsObject, schema: backfillSchema, ...backfillDoc }, async (request, reply) => {
    const body = request.body ?? {};
    const range: { from?: number; to?: number } = {};
    if (body.from !== undefined) range.from = timeParam("from", body.from);
    if (body.to !== undefined) range.to = timeParam("to", body.to);
    return reply.status(202).send(continuousAggregateOut(await aggregates.backfill(request.params.name, range)));
  });
}
