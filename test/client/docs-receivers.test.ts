import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Switchboard } from "../../src/client/index.js";
import { eventually, startTestHub, type TestHub } from "../helpers/hub.js";
import { freePort, REPO_ROOT } from "../helpers/process.js";

/**
 * The receivers of docs/sdk.md, run as they are written: each code block is saved as a module inside the repository
 * (so `switchboard/client` resolves to the built package: `npm run build` first) and gets real webhooks from a hub.
 */

const SECRET = `whsec_${Buffer.alloc(32, 3).toString("base64")}`;
let hub: TestHub;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true });
  dir = await mkdtemp(join(REPO_ROOT, ".docs-receivers-"));
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

async function example(tag: string): Promise<string> {
  const text = await readFile(join(REPO_ROOT, "docs/sdk.md"), "utf8");
  const match = new RegExp("```js " + tag + "\\n([\\s\\S]*?)```").exec(text);
  expect(match, `a js block tagged ${tag} in docs/sdk.md`).not.toBeNull();
  return match![1]!;
}

async function runReceiver(tag: string, path: string): Promise<string> {
  const file = join(dir, `${tag}.mjs`);
  await writeFile(file, await example(tag));
  const port = await freePort();
  const child = spawn(process.execPath, [file], {
    env: { PATH: process.env.PATH ?? "", WEBHOOK_SECRET: SECRET, PORT: String(port) },
    stdio: "ignore",
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}${path}`;
  await eventually(`${tag} to listen`, async () => ((await fetch(url, { method: "POST" }).catch(() => undefined)) ? true : undefined), 20_000);
  return url;
}

describe.each([
  ["receiver-node-http", "/"],
  ["receiver-fastify", "/hooks/orders"],
])("docs/sdk.md %s", (tag, path) => {
  it("acknowledges the hub's signed webhooks and refuses a forged one", async () => {
    const url = await runReceiver(tag, path);
    const sb = new Switchboard({ url: hub.url });
    const topic = `docs.${tag.replace(/-/g, "_")}`;
    const sub = await sb.subscriptions.create({ topic, url, secret: SECRET, retry: { schedule: [0] } });
    const { id } = await sb.publish(topic, { order: 1, note: "déjà" });
    const delivery = await eventually("the delivery", async () => {
      const [d] = (await sb.deliveries.page({ subscription: sub.id })).data;
      return d && d.status !== "pending" ? d : undefined;
    });
    expect(delivery).toMatchObject({ event_id: id, status: "delivered", last_status: 204 });

    const forged = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": "dlv_x",
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": "v1,AAAA",
      },
      body: "{}",
    });
    expect(forged.status).toBe(401);
  });
});
