import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

describe("GET /docs, the API reference page", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
    // A key turns auth on: the page and the document must still load without one.
    expect((await postJson(`${hub.url}/api/keys`, { name: "root", scopes: ["admin"] })).status).toBe(201);
  });
  afterAll(() => hub.close());

  it("serves an HTML page whose scripts and styles all come from the hub", async () => {
    const page = await request(`${hub.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual(["/docs/init.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]);
  });

  it.each([
    ["/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"],
    ["/docs/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"],
    ["/docs/init.js", "text/javascript; charset=utf-8", '"url":"/api/openapi.json"'],
  ])("serves %s without a credential", async (path, type, content) => {
    const reply = await request(`${hub.url}${path}`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toBe(type);
    expect(reply.text).toContain(content);
  });

  it("turns off Swagger UI's outside validator, so the page sends nothing elsewhere", async () => {
    expect((await request(`${hub.url}/docs/init.js`)).text).toContain('"validatorUrl":null');
  });

  it("runs the bundle's SwaggerUIBundle on the page's settings (the script parses)", async () => {
    const script = (await request(`${hub.url}/docs/init.js`)).text;
    let settings: Record<string, unknown> | undefined;
    const SwaggerUIBundle = Object.assign((s: Record<string, unknown>) => (settings = s), { presets: { apis: "apis" } });
    new Function("window", "SwaggerUIBundle", script)({}, SwaggerUIBundle);
    expect(settings).toMatchObject({ url: "/api/openapi.json", dom_id: "#swagger-ui", presets: ["apis"], layout: "BaseLayout" });
  });

  it("serves the document without a credential, while the API itself asks for one", async () => {
    const doc = await request(`${hub.url}/api/openapi.json`);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    expect((await request(`${hub.url}/api/topics`)).status).toBe(401);
  });

  it("answers HEAD like GET, with no body", async () => {
    const reply = await fetch(`${hub.url}/docs/swagger-ui.css`, { method: "HEAD" });
    expect(reply.status).toBe(200);
    expect(await reply.text()).toBe("");
  });
});

describe("with an empty BASE_PATH", () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ basePath: "" });
  });
  afterAll(() => hub.close());

  it("the page reads /openapi.json", async () => {
    expect((await request(`${hub.url}/docs/init.js`)).text).toContain('"url":"/openapi.json"');
    expect((await request(`${hub.url}/openapi.json`)).body.paths["/events"].get).toBeDefined();
  });
});
