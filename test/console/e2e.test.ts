import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newPage } from "../helpers/browser.js";
import { postJson, startTestHub, type TestHub } from "../helpers/hub.js";
import { startReceiver, type Receiver } from "../helpers/receiver.js";

/** Where screenshots go: test-results/console, or docs/console (which docs/console.md shows) with `npm run screenshots`. */
const SHOTS = process.env.SWITCHBOARD_SCREENSHOTS_DIR ?? join(import.meta.dirname, "..", "..", "test-results", "console");

let hub: TestHub;
let browser: Browser;
let receiver: Receiver;
let token: string;

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  receiver = await startReceiver();
  browser = await launchBrowser();
  token = (await postJson(`${hub.url}/api/keys`, { name: "e2e", scopes: ["admin"] })).body.token as string;
  await new Promise((r) => setTimeout(r, 1100)); // past the one-second cache of "is auth on"
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await hub?.close();
});

const bearer = () => ({ authorization: `Bearer ${token}` });

describe("the console in a browser", () => {
  it("sign in → create a topic → find a published event → see it live → a subscription's health → a key shown once", async () => {
    const { page, errors } = await newPage(browser);
    await page.goto(`${hub.url}/`);
    await page.getByLabel("API key or token").fill("sbk_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "unknown or revoked API key" }).waitFor();
    await page.getByLabel("API key or token").fill(token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "overview.png") });

    await page.getByRole("link", { name: "Topics" }).click();
    await page.getByLabel("Name").fill("e2e.orders");
    await page.getByLabel("JSON Schema of the data (optional)").fill('{"type": "object"');
    await page.getByText("not JSON").waitFor();
    await page.getByLabel("JSON Schema of the data (optional)").fill('{"type": "object", "required": ["total"]}');
    await page.getByRole("button", { name: "Create topic" }).click();
    await page.getByRole("row", { name: /^e2e\.orders/ }).waitFor();

    const published = await postJson(`${hub.url}/api/events`, { topic: "e2e.orders", key: "o-1", data: { total: 120 } }, bearer());
    expect(published.status, published.text).toBe(201);
    await page.getByRole("link", { name: "Events" }).click();
    await page.getByLabel("Topic").fill("e2e.*");
    await page.getByLabel("CEL filter").fill("data.total > 100");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("cell", { name: published.body.id }).click();
    await page.getByRole("complementary", { name: "Event" }).getByText('"total": 120').waitFor();
    await page.screenshot({ path: join(SHOTS, "events.png") });

    await page.getByRole("link", { name: "Live tail" }).click();
    await page.getByLabel("Topic pattern").fill("e2e.**");
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByRole("status").filter({ hasText: "live" }).waitFor();
    const live = await postJson(`${hub.url}/api/events`, { topic: "e2e.orders", data: { total: 7 } }, bearer());
    await page.getByRole("cell", { name: live.body.id }).waitFor();

    const sub = await postJson(`${hub.url}/api/subscriptions`, { topic: "e2e.orders", url: receiver.url }, bearer());
    expect(sub.status, sub.text).toBe(201);
    await page.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByRole("cell", { name: "healthy" }).waitFor();
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("cell", { name: "paused" }).waitFor();
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("cell", { name: "healthy" }).waitFor();

    await page.getByRole("link", { name: "Keys" }).click();
    await page.getByLabel("Name").fill("reader");
    await page.getByLabel("Scopes").fill("subscribe:e2e.**");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = await page.locator("code.token").textContent();
    expect(shown).toMatch(/^sbk_/);
    await page.reload();
    await page.getByRole("cell", { name: "reader" }).waitFor();
    expect(await page.locator("code.token").count()).toBe(0);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key or token").waitFor();
    expect(errors.filter((e) => !e.includes("401"))).toEqual([]);
  });

  it("works at 390 px wide, and with the keyboard alone", async () => {
    const { page, errors } = await newPage(browser, { width: 390, height: 844 });
    await page.goto(`${hub.url}/keys`);
    await page.getByLabel("API key or token").fill(token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keys" }).waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, "keys-390.png") });
    // Tab to the Topics link and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.textContent)) === "Topics") break;
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Topics" }).waitFor();
    expect(errors).toEqual([]);
  });
});
