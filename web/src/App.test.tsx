// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { App } from "./App";
import { fakeApi, render } from "./test-dom";

describe("App", () => {
  it("opens straight in with a banner when auth is off", async () => {
    fakeApi({
      "GET /api/auth/session": () => ({ status: 200, body: { auth: false, signed_in: true, scopes: ["admin"] } }),
      "GET /api/topics": () => ({ status: 200, body: { data: [] } }),
      "GET /api/subscriptions": () => ({ status: 200, body: { data: [] } }),
    });
    globalThis.fetch = wrapHealth(globalThis.fetch);
    const view = await render(<App />);
    expect(view.querySelector(".banner")?.textContent).toContain("Auth is off");
    expect(view.querySelector("h1")?.textContent).toBe("Overview");
    expect([...view.querySelectorAll("nav a")].map((a) => a.textContent)).toEqual(["Overview", "Topics", "Events", "Live tail", "Subscriptions", "Keys"]);
  });

  it("asks for a token when auth is on, and hides the admin pages from a credential without admin", async () => {
    fakeApi({ "GET /api/auth/session": () => ({ status: 200, body: { auth: true, signed_in: false, scopes: [] } }) });
    const signIn = await render(<App />);
    expect(signIn.querySelector("label")?.textContent).toBe("API key or token");

    fakeApi({ "GET /api/auth/session": () => ({ status: 200, body: { auth: true, signed_in: true, scopes: ["subscribe:**"] } }) });
    globalThis.fetch = wrapHealth(globalThis.fetch);
    const reader = await render(<App />);
    expect(reader.querySelector(".banner")).toBeNull();
    expect([...reader.querySelectorAll("nav a")].map((a) => a.textContent)).toEqual(["Overview", "Events", "Live tail"]);
  });
});

/** `/health` lives outside the API's base path. */
function wrapHealth(inner: typeof fetch): typeof fetch {
  return (async (input: string, init?: RequestInit) =>
    input === "/health" ? new Response(JSON.stringify({ status: "ok", store: "sqlite", streams: 0 }), { status: 200 }) : inner(input, init)) as typeof fetch;
}
