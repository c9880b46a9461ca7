import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

const hubs: TestHub[] = [];
async function newHub(overrides: Parameters<typeof startTestHub>[0] = {}): Promise<TestHub> {
  const hub = await startTestHub(overrides);
  hubs.push(hub);
  return hub;
}
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

const html = { accept: "text/html,application/xhtml+xml" };
const CONSOLE = { "x-switchboard-console": "1" };

/** The console's first script, as index.html names it. */
function scriptPath(page: string): string {
  const match = /src="(\/assets\/[^"]+\.js)"/.exec(page);
  expect(match, page).not.toBeNull();
  return match![1]!;
}

describe("the console's files", () => {
  it("serves index.html at / and for its pages, hashed assets for a year, and leaves /api and unknown JSON requests alone", async () => {
    const hub = await newHub();
    const root = await request(`${hub.url}/`, { headers: html });
    expect(root.status).toBe(200);
    expect(root.headers.get("content-type")).toContain("text/html");
    expect(root.headers.get("cache-control")).toBe("no-cache");
    expect(root.text).toContain('<meta name="switchboard-api-base" content="/api">');

    const asset = await request(`${hub.url}${scriptPath(root.text)}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("text/javascript");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const again = await request(`${hub.url}${scriptPath(root.text)}`, { headers: { "if-none-match": asset.headers.get("etag")! } });
    expect(again.status).toBe(304);

    for (const page of ["/topics", "/search", "/keys/anything"]) {
      const reply = await request(`${hub.url}${page}`, { headers: html });
      expect(reply.status, page).toBe(200);
      expect(reply.text).toBe(root.text);
    }
    const api = await request(`${hub.url}/api/nothing`, { headers: html });
    expect(api.status).toBe(404);
    expect(api.body.code).toBe("SB_ROUTE_NOT_FOUND");
    expect((await request(`${hub.url}/topics`)).body.code).toBe("SB_ROUTE_NOT_FOUND");
    expect((await request(`${hub.url}/api/topics`)).status).toBe(200);
  });

  it("loads at most 300 KB gzipped at first (index.html and what it names); the JSON Schema checker comes later, on use", async () => {
    const hub = await newHub();
    const page = (await request(`${hub.url}/`, { headers: html })).text;
    const initial = [...page.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(initial.some((path) => path.endsWith(".js"))).toBe(true);
    let gzipped = gzipSync(page).length;
    const scripts: string[] = [];
    for (const path of initial) {
      const asset = await fetch(`${hub.url}${path}`);
      expect(asset.status, path).toBe(200);
      const bytes = Buffer.from(await asset.arrayBuffer());
      gzipped += gzipSync(bytes).length;
      if (path.endsWith(".js")) scripts.push(bytes.toString("utf8"));
    }
    expect(gzipped).toBeLessThanOrEqual(300 * 1024);
    // The checker (Ajv) is a chunk of its own that the first script imports when the topic editor needs it.
    expect(initial.some((path) => path.includes("schema-check"))).toBe(false);
    const lazy = /["'`]\.?\/?(?:assets\/)?(schema-check-[\w-]+\.js)["'`]/.exec(scripts.join("\n"));
    expect(lazy, "the first script names the schema checker's chunk").not.toBeNull();
    const chunk = await fetch(`${hub.url}/assets/${lazy![1]}`);
    expect(chunk.status).toBe(200);
    expect(await chunk.text()).toContain("must be a JSON Schema object");
  });

  it("moves to /console when BASE_PATH is empty, and is off with SWITCHBOARD_CONSOLE=false", async () => {
    const rootApi = await newHub({ basePath: "" });
    const page = await request(`${rootApi.url}/console/topics`, { headers: html });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<meta name="switchboard-pages-base" content="/console">');
    expect((await request(`${rootApi.url}/topics`, { headers: html })).body.data).toEqual([]);

    const off = await newHub({ console: false });
    expect((await request(`${off.url}/`, { headers: html })).status).toBe(404);
  });
});

describe("console sign-in", () => {
  it("keeps the token in an HttpOnly SameSite=Strict cookie, which counts only with the console's header", async () => {
    const hub = await newHub();
    expect((await request(`${hub.url}/api/auth/session`)).body).toEqual({ auth: false, signed_in: true, scopes: ["admin"] });
    const token = (await postJson(`${hub.url}/api/keys`, { name: "root", scopes: ["admin"] })).body.token as string;
    await new Promise((r) => setTimeout(r, 1100)); // past the one-second cache of "is auth on"

    expect((await request(`${hub.url}/`, { headers: html })).status).toBe(200);
    expect((await request(`${hub.url}/topics`, { headers: html })).status).toBe(200);
    expect((await request(`${hub.url}/api/auth/session`)).body).toEqual({ auth: true, signed_in: false, scopes: [] });

    const bad = await postJson(`${hub.url}/api/auth/login`, { token: "sbk_nope" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();
    expect((await postJson(`${hub.url}/api/auth/login`, {})).status).toBe(400);

    const login = await postJson(`${hub.url}/api/auth/login`, { token });
    expect(login.status, login.text).toBe(200);
    expect(login.body).toEqual({ auth: true, scopes: ["admin"] });
    const setCookie = login.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^switchboard_token=sbk_[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const cookie = { cookie: setCookie.split(";")[0]! };

    expect((await request(`${hub.url}/api/auth/session`, { headers: cookie })).body).toEqual({ auth: true, signed_in: true, scopes: ["admin"] });
    expect((await request(`${hub.url}/api/topics`, { headers: cookie })).status).toBe(401);
    expect((await request(`${hub.url}/api/topics`, { headers: { ...cookie, ...CONSOLE } })).status).toBe(200);
    expect((await postJson(`${hub.url}/api/topics`, { name: "console.t" }, cookie)).status).toBe(401);
    expect((await postJson(`${hub.url}/api/topics`, { name: "console.t" }, { ...cookie, ...CONSOLE })).status).toBe(201);

    const behindTls = await postJson(`${hub.url}/api/auth/login`, { token }, { "x-forwarded-proto": "https" });
    expect(behindTls.headers.get("set-cookie")).toMatch(/; Secure$/);

    const logout = await request(`${hub.url}/api/auth/logout`, { method: "POST", headers: cookie });
    expect(logout.status).toBe(204);
    expect(logout.headers.get("set-cookie")).toBe("switchboard_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  });
});
