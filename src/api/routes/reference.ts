import type { FastifyInstance, FastifyReply } from "fastify";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Type } from "typebox";
import { buildOpenApiDocument, type CollectedRoute } from "../openapi/document.js";
import { documented } from "../openapi/route-doc.js";

/** What {@link registerReferenceRoutes} uses. */
export interface ReferenceRoutesOptions {
  /** Every route of the app, filled in as they register (`collectRoutes`). */
  routes: readonly CollectedRoute[];
  openRoutes: ReadonlySet<string>;
  basePath: string;
}

/** The page's files, served from the `swagger-ui-dist` package: nothing is fetched from elsewhere at run time. */
const ASSETS: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

/** The path of the OpenAPI document. */
export function openApiPathOf(basePath: string): string {
  return `${basePath}/openapi.json`;
}

/** The routes that serve the reference, to be reachable without a credential (see docs/security.md). */
export function referenceRoutes(basePath: string): string[] {
  return [openApiPathOf(basePath), "/docs", "/docs/init.js", ...Object.keys(ASSETS).map((name) => `/docs/${name}`)];
}

/**
 * `GET BASE_PATH/openapi.json`, generated once from the registered routes on its first request (when every route is
 * in), and `GET /docs`, Swagger UI reading it.
 */
export function registerReferenceRoutes(fastify: FastifyInstance, options: ReferenceRoutesOptions): void {
  const documentUrl = openApiPathOf(options.basePath);
  let documentJson: string | undefined;
  const openApiDoc = documented({
    summary: "This document",
    tag: "reference",
    replies: [{ status: 200, description: "The OpenAPI 3.1 document of this hub's API.", schema: Type.Object({}, { additionalProperties: true }) }],
  });
  fastify.get(documentUrl, openApiDoc, async (_, reply) => {
    documentJson ??= JSON.stringify(buildOpenApiDocument(options.routes, { version: packageVersion(), openRoutes: options.openRoutes }));
    return reply.type("application/json; charset=utf-8").send(documentJson);
  });

  const html = (summary: string, type: string, body: () => Promise<string | Buffer>) => {
    let cached: Promise<string | Buffer> | undefined;
    const route = documented({
      summary,
      tag: "reference",
      replies: [{ status: 200, description: summary, contentType: type.split(";")[0], schema: Type.String() }],
    });
    return [
      route,
      async (_: unknown, reply: FastifyReply) => {
        cached ??= body();
        return reply
          .type(type)
          .header("cache-control", "public, max-age=3600")
          .send(await cached);
      },
    ] as const;
  };
  fastify.get("/docs", ...html("The API reference page", "text/html; charset=utf-8", async () => pageHtml()));
  fastify.get("/docs/init.js", ...html("The reference page's script", "text/javascript; charset=utf-8", async () => initScript(documentUrl)));
  const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  for (const [name, type] of Object.entries(ASSETS)) {
    fastify.get(`/docs/${name}`, ...html(`Swagger UI's ${name}`, type, () => readFile(join(dir, name))));
  }
}

function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
}

/** No validator badge: Swagger UI would send the document to an outside validator. */
function initScript(documentUrl: string): string {
  const settings = { url: documentUrl, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null, layout: "BaseLayout" };
  return `window.ui = SwaggerUIBundle(Object.assign(${JSON.stringify(settings)}, { presets: [SwaggerUIBundle.presets.apis] }));\n`;
}

let version: string | undefined;
function packageVersion(): string {
  // src/api/routes/ and dist/api/routes/ are both three levels below the package.
  version ??= (createRequire(import.meta.url)("../../../package.json") as { version: string }).version;
  return version;
}
