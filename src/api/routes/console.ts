import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * Where `npm run build` puts the console (`vite build web`): `dist/console`, beside the compiled `api/`; when the hub
 * runs from `src/` (tsx, the tests), the same `dist/console`.
 */
export const CONSOLE_DIR = [new URL("../../console/", import.meta.url), new URL("../../../dist/console/", import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(join(dir, "index.html")));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};
/** Vite names every file under assets/ by its content hash: a new build is new names. */
const IMMUTABLE = "public, max-age=31536000, immutable";

interface ConsoleFile {
  body: Buffer;
  type: string;
  cacheControl: string;
  etag: string;
}

/** The console as served: its files by URL path, and where its pages live. */
export interface ConsoleSite {
  /** Path prefix of the console's pages: empty, or `/console` when the API itself is served from the root. */
  pagesBase: string;
  files: Map<string, ConsoleFile>;
  index: ConsoleFile;
}

/**
 * Loads the built console from `dir` (undefined when it has not been built). `index.html` gets the API's base path
 * and the pages' base in meta tags, which is how the app finds both.
 */
export function loadConsole(dir: string | undefined, basePath: string): ConsoleSite | undefined {
  if (dir === undefined || !existsSync(join(dir, "index.html"))) return undefined;
  const pagesBase = basePath === "" ? "/console" : "";
  const files = new Map<string, ConsoleFile>();
  for (const path of walk(dir)) {
    const urlPath = `/${relative(dir, path).split(sep).join("/")}`;
    if (urlPath === "/index.html") continue;
    const body = readFileSync(path);
    files.set(urlPath, file(body, TYPES[extname(path)] ?? "application/octet-stream", urlPath.startsWith("/assets/") ? IMMUTABLE : "no-cache"));
  }
  const meta = `<meta name="switchboard-api-base" content="${basePath}"><meta name="switchboard-pages-base" content="${pagesBase}">`;
  const html = readFileSync(join(dir, "index.html"), "utf8").replace("<head>", `<head>${meta}`);
  return { pagesBase, files, index: file(Buffer.from(html), TYPES[".html"]!, "no-cache") };
}

function file(body: Buffer, type: string, cacheControl: string): ConsoleFile {
  return { body, type, cacheControl, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

/**
 * Whether a request that matched no route is a page of the console: a GET or HEAD that accepts HTML, under the
 * pages' base and not under the API's. Such requests get `index.html` (the app routes them), and need no credential:
 * the page holds none; its API calls do.
 */
export function isConsolePage(site: ConsoleSite | undefined, request: FastifyRequest, basePath: string): boolean {
  if (!site || (request.method !== "GET" && request.method !== "HEAD")) return false;
  if (!(request.headers.accept ?? "").includes("text/html")) return false;
  const path = request.url.split("?")[0]!;
  if (basePath !== "" && (path === basePath || path.startsWith(`${basePath}/`))) return false;
  return site.pagesBase === "" || path === site.pagesBase || path.startsWith(`${site.pagesBase}/`);
}

/** Answers `index.html` (for {@link isConsolePage} requests and the console's root). */
export function sendConsoleIndex(site: ConsoleSite, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendFile(site.index, request, reply);
}

function sendFile(f: ConsoleFile, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  void reply.header("cache-control", f.cacheControl).header("etag", f.etag);
  if (request.headers["if-none-match"] === f.etag) return reply.status(304).send();
  return reply.type(f.type).send(f.body);
}

/**
 * Serves the console: its root page (`/`, or `/console` when BASE_PATH is empty), and each built file at its path
 * (the hashed assets cached for a year). Other pages of the app come through the not-found handler
 * ({@link isConsolePage}). Registered only when the console is built and `SWITCHBOARD_CONSOLE` is on.
 */
export function registerConsoleRoutes(fastify: FastifyInstance, site: ConsoleSite): void {
  // The console's files are no part of the API: out of the OpenAPI document.
  const notApi = { config: { openapi: false as const } };
  fastify.get(site.pagesBase || "/", notApi, (request, reply) => sendConsoleIndex(site, request, reply));
  for (const [path, f] of site.files) fastify.get(path, notApi, (request, reply) => sendFile(f, request, reply));
}

/** The console's URL paths that need no credential (its files; its pages are judged by {@link isConsolePage}). */
export function consoleOpenPaths(site: ConsoleSite | undefined): string[] {
  return site ? [site.pagesBase || "/", ...site.files.keys()] : [];
}
