import type { TSchema } from "typebox";
import type { ErrorCode } from "../../errors.js";

/** One success reply of a route, as the OpenAPI document shows it. */
export interface RouteReply {
  status: number;
  description: string;
  /** The body; none for a 204. Documentation only: fastify does not serialise with it. */
  schema?: TSchema;
  /** Default `application/json`. */
  contentType?: string;
  /** Response headers it may carry, name → description. */
  headers?: Record<string, string>;
}

/**
 * What a route says about itself beyond its request schemas, in its `config.openapi`. The generator
 * (`openapi/document.ts`) reads it off the registered route, so a route cannot be added without being documented.
 */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** The group in the reference; default: the first path segment after BASE_PATH. */
  tag?: string;
  replies: RouteReply[];
  /** Catalog codes the route's handler raises, beyond the shared ones and those its schemas name. */
  errors?: readonly ErrorCode[];
  /** Request headers it reads, name → description. */
  headers?: Record<string, string>;
  /** A missing body is taken as `{}`. */
  bodyOptional?: boolean;
  /** Body media types besides `application/json`. */
  bodyTypes?: readonly string[];
  /** A live SSE stream: its token may also come in `?access_token=` or the `switchboard_token` cookie. */
  stream?: boolean;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The route's part of `GET BASE_PATH/openapi.json`; `false` leaves it out on purpose (files of a web UI, which are
     * no part of the API). A route with neither makes the document fail to build.
     */
    openapi?: RouteDoc | false;
  }
}

/** A route's `config` carrying its documentation. */
export function documented(doc: RouteDoc): { config: { openapi: RouteDoc } } {
  return { config: { openapi: doc } };
}
