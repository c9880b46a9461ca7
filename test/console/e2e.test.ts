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
let handlerFails = true;
const handlerRuns: string[] = [];

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  // An in-process handler, which the console lists as a subscription of kind "function": it fails while told to.
  hub.server.hub.handle(
    "e2e.jobs",
    (event) => {
      handlerRuns.push(event.id);
      if (handlerFails) throw new Error("job runner down");
    },
    { name: "e2e-jobs", maxErrors: 1 },
  );
  await hub.server.hub.start();
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

/** The time of the events published before the replayed range. */
const EARLIER = "2026-01-01T00:00:00Z";
const bearer = () => ({ authorization: `Bearer ${token}` });

/** A time as a `datetime-local` input takes it (local time, to the second). */
function localInput(d: Date): string {
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** Polls `check` until it is true, for at most 10 s. */
async function expectEventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met within 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the console in a browser", () => {
  it("sign in → topic → search → live tail → subscription → dead delivery retried → replay → a key shown once → a handler", { timeout: 90_000 }, async () => {
    const { page, errors } = await newPage(browser);
    await page.goto(`${hub.url}/`);
    await page.getByLabel("API key or token").fill("sbk_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "unknown or revoked API key" }).waitFor();
    await page.getByLabel("API key or token").fill(token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Overview" }).waitFor();

    await page.getByRole("link", { name: "Topics" }).click();
    await page.getByLabel("Name").fill("e2e.orders");
    await page.getByLabel("JSON Schema of the data (optional)").fill('{"type": "object"');
    await page.getByText("not JSON").waitFor();
    // Checked as a JSON Schema too, as the hub checks it: the problem's line, column and path, and no saving.
    await page.getByLabel("JSON Schema of the data (optional)").fill('{\n  "type": "object",\n  "required": "total"\n}');
    await page.locator(".schema-problems li").filter({ hasText: "line 3, column 15: /required must be array" }).waitFor();
    expect(await page.getByRole("button", { name: "Create topic" }).isDisabled()).toBe(true);
    await page.screenshot({ path: join(SHOTS, "topics.png") });
    await page.getByLabel("JSON Schema of the data (optional)").fill('{"type": "object", "required": ["total"]}');
    await page.getByRole("button", { name: "Create topic" }).click();
    await page.getByRole("row", { name: /^e2e\.orders/ }).waitFor();
    // What only the hub can tell (the name is taken) comes back under the form.
    await page.getByLabel("Name").fill("e2e.orders");
    await page.getByRole("button", { name: "Create topic" }).click();
    await page.getByRole("alert").filter({ hasText: 'topic "e2e.orders" already exists (SB_TOPIC_EXISTS)' }).waitFor();

    const published = await postJson(`${hub.url}/api/events`, { topic: "e2e.orders", key: "o-1", time: EARLIER, data: { total: 120 } }, bearer());
    expect(published.status, published.text).toBe(201);
    await page.getByRole("link", { name: "Events" }).click();
    await page.getByLabel("Topic").fill("e2e.*");
    await page.getByLabel("CEL filter").fill("data.total >");
    await page.getByRole("button", { name: "Search" }).click();
    // The parser's message with a caret under the position, laid out as it came.
    expect(await page.locator("pre.error").textContent()).toMatch(/data\.total >\n\s+\^/);
    await page.getByLabel("CEL filter").fill("data.total > 100");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("cell", { name: published.body.id }).click();
    await page.getByRole("complementary", { name: "Event" }).getByText('"total": 120').waitFor();
    await page.screenshot({ path: join(SHOTS, "events.png") });
    // The same event by a data field and an absolute range around its time.
    await page.getByLabel("CEL filter").fill("");
    await page.getByLabel("Data fields").fill("total=120");
    await page.getByLabel("From").selectOption("at");
    await page.getByLabel("Until").selectOption("at");
    await page.getByLabel("Start").fill(localInput(new Date(Date.parse(EARLIER) - 60_000)));
    await page.getByLabel("End").fill(localInput(new Date(Date.parse(EARLIER) + 60_000)));
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("cell", { name: published.body.id }).waitFor();
    expect(await page.locator("table.events tbody tr[tabindex]").count()).toBe(1);

    await page.getByRole("link", { name: "Live tail" }).click();
    await page.getByLabel("Topic pattern").fill("e2e.**");
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByRole("status").filter({ hasText: "live" }).waitFor();
    const live = await postJson(`${hub.url}/api/events`, { topic: "e2e.orders", time: EARLIER, data: { total: 7 } }, bearer());
    await page.getByRole("cell", { name: live.body.id }).waitFor();

    // A subscription made in the console; its first delivery dies (the receiver answers 500), is retried from the
    // console once the receiver is back, and the range is replayed.
    receiver.respond({ status: 500 });
    page.on("dialog", (d) => void d.accept());
    await page.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByLabel("Topic or pattern").fill("e2e.orders");
    await page.getByLabel("Destination url").fill(receiver.url);
    await page.getByLabel("Retry delays, seconds (optional)").fill("0, 0.1");
    await page.getByRole("button", { name: "Create subscription" }).click();
    const detail = page.getByRole("complementary", { name: "Subscription" });
    await detail.waitFor();
    await detail.getByRole("button", { name: "Send test event" }).click();
    await detail
      .getByRole("status")
      .filter({ hasText: /^Test event: refused, 500, \d+ ms$/ })
      .waitFor();
    await receiver.waitFor(1);
    const before = new Date(Date.now() - 1000);
    const failing = await postJson(`${hub.url}/api/events`, { topic: "e2e.orders", data: { total: 1 } }, bearer());
    expect(failing.status).toBe(201);
    await receiver.waitFor(3);
    await detail.getByLabel("Status").selectOption("dead");
    await expectEventually(async () => {
      await detail.getByRole("button", { name: "Refresh" }).click();
      return (await detail.getByRole("cell", { name: "dead" }).count()) === 1;
    });
    await page.screenshot({ path: join(SHOTS, "subscription.png") });
    receiver.respond({ status: 200 });
    await detail.getByRole("button", { name: "Retry dead deliveries" }).click();
    await detail.getByRole("status").filter({ hasText: "1 dead deliveries sent again" }).waitFor();
    await receiver.waitUntil("the retried delivery", (reqs) => reqs.some((r) => r.answered === 200));
    await detail.getByLabel("Status").selectOption("delivered");
    await expectEventually(async () => {
      await detail.getByRole("button", { name: "Refresh" }).click();
      return (await detail.getByRole("cell", { name: "delivered" }).count()) === 1;
    });
    await detail.getByLabel("Replay from").fill(localInput(before));
    await detail.getByLabel("to", { exact: true }).fill(localInput(new Date(Date.now() + 60_000)));
    await detail.getByRole("button", { name: "Replay" }).click();
    await detail.getByRole("status").filter({ hasText: "1 events replayed" }).waitFor();
    // The event's page: its deliveries, each with its attempts as a timeline (two 500s, then the retried 200;
    // and the replay's own delivery).
    await page.getByRole("link", { name: "Events" }).click();
    await page.getByLabel("CEL filter").fill("data.total == 1");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("cell", { name: failing.body.id }).click();
    const event = page.getByRole("complementary", { name: "Event" });
    await expectEventually(async () => (await event.locator(".timeline li.failed").count()) === 2 && (await event.locator(".timeline li.ok").count()) >= 2);
    expect(await event.getByRole("region", { name: /^Delivery dlv_/ }).count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, "event.png") });
    // The event's page is its address: a reload opens it again.
    expect(new URL(page.url()).pathname).toBe(`/search/${failing.body.id}`);
    await page.reload();
    await event.getByText(`"id": "${failing.body.id}"`).waitFor();
    await expectEventually(async () => (await event.getByRole("region", { name: /^Delivery dlv_/ }).count()) === 2);
    await page.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByRole("row", { name: /e2e\.orders/ }).click();
    await detail.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("cell", { name: "paused" }).waitFor();

    await page.getByRole("link", { name: "Keys" }).click();
    await page.getByLabel("Name").fill("reader");
    await page.getByLabel("Scopes").fill("subscribe:e2e.**");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = await page.locator("code.token").textContent();
    expect(shown).toMatch(/^sbk_/);
    await page.reload();
    await page.getByRole("cell", { name: "reader" }).waitFor();
    expect(await page.locator("code.token").count()).toBe(0);

    // The overview's charts come from the rollups: the events of this test are in the last hour's.
    await page.getByRole("link", { name: "Overview" }).click();
    const chart = page.getByRole("img", { name: /^Events per minute: events [1-9]\d* in all$/ });
    await chart.waitFor();
    await page.getByRole("img", { name: /^Delivery attempts per minute: delivered [1-9]\d* in all, failed [1-9]\d* in all, dead 1 in all$/ }).waitFor();
    await page.screenshot({ path: join(SHOTS, "overview.png") });

    // A handler: its delivery log, a dead delivery sent again from its row, a range replayed with its progress; the
    // actions the hub refuses for a handler are not offered.
    const job = await postJson(`${hub.url}/api/events`, { topic: "e2e.jobs", data: { job: 1 } }, bearer());
    expect(job.status).toBe(201);
    await page.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByRole("row", { name: /e2e-jobs/ }).click();
    await detail.getByText("An in-process handler").waitFor();
    expect(await detail.getByRole("button", { name: /^(Edit|Pause|Resume|Reveal secret|Rotate secret|Send test event|Delete)$/ }).count()).toBe(0);
    await detail.getByLabel("Status").selectOption("dead");
    await expectEventually(async () => {
      await detail.getByRole("button", { name: "Refresh" }).click();
      return (await detail.getByRole("cell", { name: "job runner down" }).count()) === 1;
    });
    await page.screenshot({ path: join(SHOTS, "handler.png") });
    handlerFails = false;
    await detail.getByRole("button", { name: /^Retry delivery dlv_/ }).click();
    await detail.getByLabel("Status").selectOption("delivered");
    await expectEventually(async () => {
      await detail.getByRole("button", { name: "Refresh" }).click();
      return (await detail.getByRole("cell", { name: "delivered" }).count()) === 1;
    });
    await detail.getByLabel("Replay from").fill(localInput(new Date(Date.now() - 60_000)));
    await detail.getByLabel("to", { exact: true }).fill(localInput(new Date(Date.now() + 60_000)));
    await detail.getByRole("button", { name: "Replay" }).click();
    await detail.getByRole("status").filter({ hasText: "1 events replayed: 1 delivered, 0 dead, 0 on the way" }).waitFor();
    expect(handlerRuns.filter((id) => id === job.body.id)).toHaveLength(3); // failed, retried, replayed

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key or token").waitFor();
    // The browser logs each refused request: the wrong token (401), the bad filter (400) and the taken topic name
    // (409) were on purpose.
    expect(errors.filter((e) => !/the server responded with a status of 40[019]/.test(e))).toEqual([]);
  });

  it("works at 390 px wide, and with the keyboard alone", async () => {
    const { page, errors } = await newPage(browser, { width: 390, height: 844 });
    await page.goto(`${hub.url}/keys`);
    await page.getByLabel("API key or token").fill(token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Keys" }).waitFor();
    const width = await page.evaluate<number>("document.documentElement.scrollWidth");
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, "keys-390.png") });
    // Tab to the Topics link and follow it with Enter.
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate<string | undefined>("document.activeElement?.textContent")) === "Topics") break;
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Topics" }).waitFor();
    expect(errors).toEqual([]);
  });
});
