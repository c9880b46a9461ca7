import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import { grantsScope, type Authenticator, type Credential } from "../auth/index.js";
import { HubError } from "../errors.js";
import type { Hub } from "../hub.js";
import { referenceRoutes } from "./routes/reference.js";

/** The cookie a browser's EventSource can carry a token in (it cannot set headers). */
export const TOKEN_COOKIE = "switchboard_token";

/** What the auth hook decided for one request. */
interface AuthState {
  /** False when auth is off: every request is allowed. */
  enabled: boolean;
  credential?: Credential;
}

/** A request after the auth hook: the credential's stable id, for rate limits and stream quotas. */
export interface RequestWithCredential {
  credentialId?: string;
}

const states = new WeakMap<FastifyRequest, AuthState>();

/** What of the web console needs no credential: its files, and its pages (requests that match no route). */
export interface OpenConsole {
  paths: readonly string[];
  isOpen: (request: FastifyRequest) => boolean;
}

/**
 * The routes that take no credential: the probes, `/metrics`, and the API's description (`BASE_PATH/openapi.json`,
 * `/docs`), which hold no data (docs/security.md), and the console's sign-in routes, which check their own token.
 */
export function openRoutes(basePath: string): Set<string> {
  return new Set([
    "/health",
    `${basePath}/health`,
    "/ready",
    "/metrics",
    `${basePath}/auth/login`,
    `${basePath}/auth/logout`,
    `${basePath}/auth/session`,
    ...referenceRoutes(basePath),
  ]);
}

/**
 * Adds the `onRequest` hook that authenticates every request except those of {@link openRoutes}, the console's files
 * and pages (`consoleAccess`) and CORS preflights: a bearer token in `Authorization`, or on stream requests (see
 * {@link isStreamRequest}) also `?access_token=` or the `switchboard_token` cookie, and on any request that carries
 * {@link CONSOLE_HEADER} the cookie too. Without a valid one the request
 * ends 401 (with `WWW-Authenticate: Bearer`); scopes are checked later by the routes with {@link requireScope}.
 * When auth is off (see `Authenticator.enabled`), nothing is checked. Register it before any hook that reads
 * `request.credentialId`.
 */
export function registerAuth(fastify: FastifyInstance, hub: Hub, consoleAccess: OpenConsole = { paths: [], isOpen: () => false }): void {
  const base = hub.config.basePath;
  const open = new Set([...openRoutes(base), ...consoleAccess.paths]);
  fastify.addHook("onRequest", (request, reply, done) => {
    const route = request.routeOptions.url;
    // A CORS preflight never carries credentials; the CORS hook (api/limits.ts) answers it.
    const preflight = request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined;
    if (preflight || (route !== undefined ? open.has(route) : consoleAccess.isOpen(request))) {
      done();
      return;
    }
    // Auth off and known to be off: no promise on the hot path.
    if (hub.auth.enabledNow() === false) {
      states.set(request, { enabled: false });
      done();
      return;
    }
    authenticateRequest(hub, request, reply, isStreamRequest(request, base)).then(() => done(), done);
  });
}

/**
 * Whether a request opens a live stream, the only kind that may carry its token in `?access_token=` or the
 * `switchboard_token` cookie: a GET (or HEAD) of `BASE_PATH/topics/:topic/stream`, or of `/events` when that path is
 * the stream's. With an empty `BASE_PATH`, `/events` is also the search (GET) and publishing (POST), so only a GET
 * whose `Accept` asks for `text/event-stream` is a stream there. The one test for "is this a stream": auth, the
 * stream limit and the `/events` dispatch in `routes/events.ts` all use it.
 */
export function isStreamRequest(request: FastifyRequest, basePath: string): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const route = request.routeOptions.url;
  if (route === `${basePath}/topics/:topic/stream`) return true;
  if (route !== "/events") return false;
  return basePath !== "" || (request.headers.accept ?? "").includes("text/event-stream");
}

async function authenticateRequest(hub: Hub, request: FastifyRequest, reply: FastifyReply, isStream: boolean): Promise<void> {
  if (!(await hub.auth.enabled())) {
    states.set(request, { enabled: false });
    return;
  }
  states.set(request, { enabled: true });
  const credential = await credentialOfToken(hub.auth, bearerToken(request, isStream), isStream, (name, value) => void reply.header(name, value));
  states.set(request, { enabled: true, credential });
  (request as RequestWithCredential).credentialId = credential.id;
}

/**
 * The credential a bearer token stands for, once auth is known to be on. Without a token, or with one that does not
 * verify, it throws the 401 (`SB_AUTH_REQUIRED`, `SB_AUTH_INVALID`) having set `WWW-Authenticate` through `setHeader`.
 * The one check of the auth hook and the lean publish path (publish-fast-path.ts).
 * @example const credential = await credentialOfToken(hub.auth, bearerOfHeader(header), false, (n, v) => reply.header(n, v));
 */
export async function credentialOfToken(
  auth: Pick<Authenticator, "authenticate">,
  token: string | undefined,
  isStream: boolean,
  setHeader: (name: string, value: string) => void,
): Promise<Credential> {
  if (token === undefined) {
    setHeader("www-authenticate", 'Bearer realm="switchboard"');
    throw new HubError(
      "SB_AUTH_REQUIRED",
      isStream ? "send Authorization: Bearer <token>, ?access_token=<token> or the switchboard_token cookie" : "send Authorization: Bearer <token>",
    );
  }
  try {
    return await auth.authenticate(token);
  } catch (error) {
    setHeader("www-authenticate", 'Bearer realm="switchboard", error="invalid_token"');
    throw error;
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined for any other scheme or shape. */
export function bearerOfHeader(header: string): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? match[1] : undefined;
}

/**
 * The header every request of the console sends. With it, the `switchboard_token` cookie authenticates any request,
 * not only streams: a page of another site can neither read nor send the cookie (SameSite=Strict), nor set this
 * header without a CORS preflight, so a forged form or link gets a 401.
 */
export const CONSOLE_HEADER = "x-switchboard-console";

function bearerToken(request: FastifyRequest, isStream: boolean): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) return bearerOfHeader(header);
  if (isStream) {
    const query = request.query as Record<string, string | string[] | undefined>;
    const fromQuery = Array.isArray(query.access_token) ? query.access_token[0] : query.access_token;
    if (fromQuery) return fromQuery;
  } else if (request.headers[CONSOLE_HEADER] === undefined) return undefined;
  return cookieValue(request.headers.cookie, TOKEN_COOKIE);
}

/** The token a request carries in `Authorization` or the cookie (for `GET BASE_PATH/auth/session`, which only reads scopes). */
export function credentialToken(request: FastifyRequest): string | undefined {
  return request.headers.authorization !== undefined ? bearerToken(request, false) : cookieValue(request.headers.cookie, TOKEN_COOKIE);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
    try {
      return decodeURIComponent(raw) || undefined;
    } catch {
      return raw || undefined;
    }
  }
  return undefined;
}

/**
 * Throws unless the request's credential grants every scope given (`admin`, `publish:<topic or pattern>`,
 * `subscribe:<topic or pattern>`); the 403 names the first one missing. Passes everything when auth is off.
 * @example requireScope(request, events.map((e) => `publish:${e.topic}`));
 */
export function requireScope(request: FastifyRequest, scopes: string | readonly string[]): void {
  const missing = missingScope(request, scopes);
  if (missing !== undefined) throw new HubError("SB_AUTH_FORBIDDEN", `requires ${missing}`);
}

/** Whether the request's credential grants `scope` (always true when auth is off). */
export function hasScope(request: FastifyRequest, scope: string): boolean {
  return missingScope(request, scope) === undefined;
}

function missingScope(request: FastifyRequest, scopes: string | readonly string[]): string | undefined {
  const state = states.get(request);
  if (state && !state.enabled) return undefined;
  // No state: the hook did not run for this request; fail closed.
  if (!state?.credential) throw new HubError("SB_AUTH_REQUIRED", "send Authorization: Bearer <token>");
  return missingScopeOf(state.credential, scopes);
}

/**
 * Throws the 403 (`SB_AUTH_FORBIDDEN`, naming the first scope missing) unless `credential` grants every scope given:
 * what {@link requireScope} checks once the auth hook has found the credential, and what the lean publish path checks.
 */
export function requireCredentialScope(credential: Credential, scopes: string | readonly string[]): void {
  const missing = missingScopeOf(credential, scopes);
  if (missing !== undefined) throw new HubError("SB_AUTH_FORBIDDEN", `requires ${missing}`);
}

function missingScopeOf(credential: Credential, scopes: string | readonly string[]): string | undefined {
  const list = typeof scopes === "string" ? [scopes] : scopes;
  for (const scope of list) if (!grantsScope(credential.scopes, scope)) return scope;
  return undefined;
}

/** Route-level hook for routes that need `admin` (topics, subscriptions, publishers, deliveries, keys). */
export const adminOnly: onRequestHookHandler = (request, _reply, done) => {
  try {
    requireScope(request, "admin");
  } catch (error) {
    done(error as Error);
    return;
  }
  done();
};

/** The scopes reading these topic patterns takes; no pattern means every topic (`subscribe:**`). */
export function subscribeScopes(patterns: readonly string[]): string[] {
  return patterns.length === 0 ? ["subscribe:**"] : patterns.map((p) => `subscribe:${p}`);
}

/**
 * A URL fit for logs: the value of every query parameter whose name decodes to `access_token` is replaced, however
 * the name is written (`access%5Ftoken`, `%61ccess_token`, repeated, after `;`). The name is decoded as the query
 * parser decodes it, so whatever the hub would take as a token is never written out.
 * @example redactUrl("/events?access%5Ftoken=abc&topic=a") // "/events?access%5Ftoken=[redacted]&topic=a"
 */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const query = url.slice(q + 1);
  // Without an escape, only the literal name can decode to access_token: most URLs stop here.
  if (!query.includes("%") && !query.includes("access_token")) return url;
  // Split, not a regex over the whole query: linear whatever the input.
  const parts = query.split(/([&;])/);
  for (let i = 0; i < parts.length; i += 2) {
    const eq = parts[i]!.indexOf("=");
    if (eq > 0 && decodedName(parts[i]!.slice(0, eq)) === "access_token") parts[i] = `${parts[i]!.slice(0, eq)}=[redacted]`;
  }
  return url.slice(0, q + 1) + parts.join("");
}

/**
 * A query parameter name decoded as the query parser does (`+` is a space, `%XX` escapes), leniently: escapes of
 * ASCII characters are decoded even where the name holds a malformed one, so a name the parser would read as
 * `access_token` always reads so here too (at worst a few more names are redacted).
 */
function decodedName(name: string): string {
  if (!name.includes("%") && !name.includes("+")) return name;
  return name.replace(/\+/g, " ").replace(/%([0-7][0-9a-fA-F])/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
