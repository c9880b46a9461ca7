import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { HubError } from "../errors.js";
import { isStreamRequest } from "./auth.js";
import type { Hub } from "../hub.js";

/**
 * Limits on what one client may ask of the hub, and CORS.
 *
 * - Rate limits: a token bucket per credential for publishing and one for the rest of the API; capacity is one
 *   second's worth. Past it: 429 `SB_RATE_LIMITED` with `Retry-After`.
 * - Open SSE streams per credential: past `maxStreamsPerCredential`, 429 `SB_STREAMS_PER_CREDENTIAL`.
 * - With auth off there is no credential, and none of these applies (see {@link clientKey}).
 * - URLs longer than {@link MAX_URL_LENGTH}: 414 `SB_REQUEST_URL_TOO_LONG` (checked in build-app.ts, on every request).
 * - CORS for browser publishers and streams, when `corsOrigins` is set.
 *
 * The per-client checks run as route-level `preParsing` hooks, attached only to the routes they apply to: they run
 * after every `onRequest` hook (so after authentication has set `credentialId`) and before the body is read, and
 * `/health`, `/ready` and `/metrics` carry no hook at all.
 */

/** Longest request target (path and query) accepted. */
export const MAX_URL_LENGTH = 8192;
/** Most clients with a bucket held at once, per limit; past it the oldest bucket is dropped. */
const MAX_BUCKETS = 100_000;
/** How often idle (full) buckets are dropped. */
const SWEEP_MS = 10_000;

const CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const CORS_HEADERS = ["authorization", "content-type", "idempotency-key", "last-event-id", "cache-control"];
const CORS_EXPOSE = "retry-after, idempotent-replayed";
const CORS_MAX_AGE_S = "7200";

/** The request as the auth hook leaves it. */
interface RequestWithCredential {
  credentialId?: string;
}

type PreParsingHook = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void) => void;

interface Bucket {
  tokens: number;
  /** `Date.now()` of the last refill. */
  at: number;
}

/**
 * Token buckets, one per client key, with a capacity of `perS` tokens refilled at `perS` per second.
 * Memory is bounded: full buckets are dropped by a periodic sweep (a full bucket is the same as none), and past
 * {@link MAX_BUCKETS} the oldest is dropped.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly now: () => number;

  constructor(
    readonly perS: number,
    now: () => number = Date.now,
  ) {
    this.perMs = perS / 1000;
    this.now = now;
  }

  /** Takes a token for `key`: 0 when granted, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.perS, at: now };
      this.buckets.set(key, bucket);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(this.perS, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perS));
  }

  /** Drops buckets that have refilled completely. */
  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.perS) this.buckets.delete(key);
    }
  }

  /** Buckets held. */
  get size(): number {
    return this.buckets.size;
  }
}

/**
 * The key a client is limited by: its credential. Without auth there is none, and no per-client limit applies:
 * keying by address would put every client behind one proxy into one bucket. The global stream cap, body, depth and
 * batch limits hold either way.
 */
function clientKey(request: FastifyRequest): string | undefined {
  return (request as RequestWithCredential).credentialId;
}

type RouteKind = "exempt" | "publish" | "stream" | "api";

/** The limits {@link registerLimits} sets up that other paths than fastify's hooks apply too. */
export interface Limits {
  /**
   * Takes a publish token for the credential (none is taken without one): undefined when granted, else the 429 to
   * answer, `Retry-After` having been set through `setHeader`. The publish routes' hook and the lean publish path share it.
   */
  takePublish: (credentialId: string | undefined, setHeader: (name: string, value: string) => void) => HubError | undefined;
}

/**
 * Registers the per-client limits and CORS on `fastify`. Call before any route is registered.
 * @example const limits = registerLimits(fastify, hub);
 */
export function registerLimits(fastify: FastifyInstance, hub: Hub): Limits {
  const { config } = hub;
  const base = config.basePath;
  const publishLimiter = config.rateLimitPublishPerS > 0 ? new RateLimiter(config.rateLimitPublishPerS) : undefined;
  const apiLimiter = config.rateLimitApiPerS > 0 ? new RateLimiter(config.rateLimitApiPerS) : undefined;
  if (publishLimiter || apiLimiter) {
    const sweep = setInterval(() => {
      publishLimiter?.sweep();
      apiLimiter?.sweep();
    }, SWEEP_MS);
    sweep.unref();
    fastify.addHook("onClose", (_instance, done) => {
      clearInterval(sweep);
      done();
    });
  }

  const exempt = new Set(["/health", `${base}/health`, "/ready", "/metrics"]);
  const publishPaths = new Set([`${base}/events`, `${base}/topics/:topic/events`, `${base}/messages`]);
  const streamPaths = new Set([`${base}/topics/:topic/stream`, "/events"]);
  const kindOf = (method: string, url: string): RouteKind => {
    if (method === "OPTIONS" || exempt.has(url)) return "exempt";
    if (method === "POST" && publishPaths.has(url)) return "publish";
    if (method === "GET" && streamPaths.has(url)) return "stream";
    return "api";
  };

  const publishHook = rateLimitHook(publishLimiter, "publishing");
  const apiHook = rateLimitHook(apiLimiter, "the API");
  const streamHook = streamLimitHook(base, config.maxStreamsPerCredential);

  fastify.addHook("onRoute", (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const kinds = methods.map((m) => kindOf(m.toUpperCase() === "HEAD" ? "GET" : m.toUpperCase(), route.url));
    // A route serving several methods gets the strictest of their kinds.
    const kind = (["publish", "stream", "api"] as const).find((k) => kinds.includes(k)) ?? "exempt";
    if (kind === "exempt") return;
    const hooks: PreParsingHook[] = [kind === "publish" ? publishHook : apiHook];
    if (kind === "stream") hooks.push(streamHook);
    const existing = route.preParsing;
    route.preParsing = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), ...hooks] as RouteOptions["preParsing"];
  });

  if (config.corsOrigins.trim() !== "") registerCors(fastify, config.corsOrigins);
  return { takePublish: (credentialId, setHeader) => takeRateToken(publishLimiter, "publishing", credentialId, setHeader) };
}

/** Refuses requests over `limiter`'s rate for their credential. */
function rateLimitHook(limiter: RateLimiter | undefined, name: string): PreParsingHook {
  return (request, reply, payload, done) => {
    const refusal = takeRateToken(limiter, name, clientKey(request), (header, value) => void reply.header(header, value));
    if (refusal !== undefined) done(refusal);
    else done(null, payload);
  };
}

/** Takes a token of `limiter` for `key`: undefined when granted (or nothing limits), else the 429, `Retry-After` set. */
function takeRateToken(
  limiter: RateLimiter | undefined,
  name: string,
  key: string | undefined,
  setHeader: (name: string, value: string) => void,
): HubError | undefined {
  if (limiter === undefined || key === undefined) return undefined;
  const wait = limiter.take(key);
  if (wait === 0) return undefined;
  setHeader("retry-after", String(wait));
  return new HubError("SB_RATE_LIMITED", `${name} is limited to ${limiter.perS} requests per second per credential; retry in ${wait} s`);
}

/**
 * Limits open streams per credential, counted from the stream's request until its response closes (whether it
 * streamed or was refused later, e.g. for a bad filter).
 */
function streamLimitHook(base: string, maxStreams: number): PreParsingHook {
  const openStreams = new Map<string, number>();
  return (request, reply, payload, done) => {
    // With an empty BASE_PATH, GET /events is the search unless the client asks for a stream.
    if (!isStreamRequest(request, base)) {
      done(null, payload);
      return;
    }
    const key = clientKey(request);
    if (key === undefined) {
      done(null, payload);
      return;
    }
    const open = openStreams.get(key) ?? 0;
    if (open >= maxStreams) {
      reply.header("retry-after", "5");
      done(new HubError("SB_STREAMS_PER_CREDENTIAL", `this credential has ${open} open streams, its limit; close one or retry later`));
      return;
    }
    openStreams.set(key, open + 1);
    reply.raw.once("close", () => {
      const n = (openStreams.get(key) ?? 1) - 1;
      if (n <= 0) openStreams.delete(key);
      else openStreams.set(key, n);
    });
    done(null, payload);
  };
}

/** Parses `corsOrigins`: `*`, or a comma-separated list of origins (`https://app.example.com`). */
function parseOrigins(value: string): { any: boolean; origins: Set<string> } {
  const list = value
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, "").toLowerCase())
    .filter((o) => o !== "");
  return { any: list.includes("*"), origins: new Set(list) };
}

/**
 * CORS: preflights are answered here (204, or 403 `SB_CORS_FORBIDDEN` for an origin not allowed); replies to an
 * allowed origin carry `Access-Control-Allow-Origin`. The headers go on the raw response, so they survive
 * `reply.hijack()` (SSE writes its own head; `writeHead` merges headers set before it). A reply refused by a hook
 * that ran before this one gets them in `onSend`.
 */
function registerCors(fastify: FastifyInstance, corsOrigins: string): void {
  const { any, origins } = parseOrigins(corsOrigins);
  const allowedOrigin = (origin: string): string | undefined => (any ? "*" : origins.has(origin.toLowerCase()) ? origin : undefined);
  const setHeaders = (reply: FastifyReply, allow: string): void => {
    const res = reply.raw;
    if (res.headersSent) return;
    res.setHeader("access-control-allow-origin", allow);
    res.setHeader("access-control-expose-headers", CORS_EXPOSE);
    if (allow !== "*") res.setHeader("vary", "Origin");
  };

  fastify.addHook("onRequest", (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined) {
      done();
      return;
    }
    const allow = allowedOrigin(origin);
    if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
      if (allow === undefined) {
        done(new HubError("SB_CORS_FORBIDDEN", `origin ${JSON.stringify(origin)} is not allowed`));
        return;
      }
      const headers = [...CORS_HEADERS];
      for (const h of String(request.headers["access-control-request-headers"] ?? "").split(",")) {
        const name = h.trim().toLowerCase();
        if (/^ce-[a-z0-9-]+$/.test(name) && !headers.includes(name)) headers.push(name);
      }
      void reply
        .status(204)
        .header("access-control-allow-origin", allow)
        .header("access-control-allow-methods", CORS_METHODS)
        .header("access-control-allow-headers", headers.join(", "))
        .header("access-control-max-age", CORS_MAX_AGE_S)
        .header("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        .send();
      return;
    }
    if (allow !== undefined) setHeaders(reply, allow);
    done();
  });
  fastify.addHook("onSend", (request, reply, payload, done) => {
    const origin = request.headers.origin;
    if (origin !== undefined && !reply.raw.hasHeader("access-control-allow-origin") && !reply.hasHeader("access-control-allow-origin")) {
      const allow = allowedOrigin(origin);
      if (allow !== undefined) setHeaders(reply, allow);
    }
    done(null, payload);
  });
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`. One pass, skipping strings; it trusts nothing
 * (the text may not be JSON), and it never recurses, so a body a million brackets deep costs one scan. Text with no
 * more than `max` opening brackets in all (a single event, mostly) cannot nest deeper: a few substring searches
 * count them, and the pass is skipped.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let brackets = 0;
  for (let i = text.indexOf("{"); i !== -1 && brackets <= max; i = text.indexOf("{", i + 1)) brackets++;
  for (let i = text.indexOf("["); i !== -1 && brackets <= max; i = text.indexOf("[", i + 1)) brackets++;
  if (brackets <= max) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: to the next quote not escaped by an odd run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return false; // unterminated: JSON.parse refuses it
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
