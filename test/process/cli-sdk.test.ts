import { spawn } from "node:child_process";
import { openSync, closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Switchboard, type EventOut } from "../../src/client/index.js";
import { startTestHub, type TestHub } from "../helpers/hub.js";
import { makeTempDir, removeDir, REPO_ROOT } from "../helpers/process.js";

/** The built CLI (`npm run build` first), run to its end with stdin from `stdinFile` (or nothing). */
async function cli(args: string[], env: Record<string, string>, stdinFile?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const stdin = stdinFile === undefined ? "ignore" : openSync(stdinFile, "r");
  try {
    const child = spawn(process.execPath, [join(REPO_ROOT, "dist/cli/index.js"), ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: [stdin, "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { code, stdout, stderr };
  } finally {
    if (typeof stdin === "number") closeSync(stdin);
  }
}

let source: TestHub;
let target: TestHub;
let dir: string;
let published: EventOut[];

beforeAll(async () => {
  [source, target] = await Promise.all([startTestHub({ maxBatchEvents: 50 }), startTestHub({ allowPrivateTargets: true })]);
  dir = await makeTempDir();
  const sb = new Switchboard({ url: source.url });
  // 120 events: more than a page of the export's search would need with a small limit, and several import batches.
  await sb.publishBatch(Array.from({ length: 40 }, (_, i) => ({ topic: "backup.orders", data: { i, name: `é-${i}` }, time: Date.UTC(2025, 0, 1, 0, i) })));
  await sb.publishBatch(
    Array.from({ length: 40 }, (_, i) => ({ topic: "backup.orders", data: { i: 40 + i }, time: Date.UTC(2025, 0, 2, 0, i), key: `k${i}` })),
  );
  await sb.publishBatch(Array.from({ length: 40 }, (_, i) => ({ topic: "backup.other", data: { j: i } })));
  published = [];
  for await (const e of sb.events.search({ topic: "backup.orders" })) published.push(e);
}, 60_000);
afterAll(async () => {
  await Promise.all([source.close(), target.close(), removeDir(dir)]);
});

describe("switchboard export and import (the built CLI)", () => {
  it("export writes every event of the topic, every page, as NDJSON; --from/--to keep to the range", async () => {
    const all = await cli(["export", "--topic", "backup.orders", "--page-size", "7"], { SWITCHBOARD_URL: source.url });
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.split("\n").filter((l) => l !== "");
    expect(lines.map((l) => JSON.parse(l))).toEqual(published);
    expect(all.stderr).toContain("exported 80 events");

    const day2 = await cli(["export", "--topic", "backup.*", "--from", "2025-01-02", "--to", "2025-01-02T00:10:00Z"], { SWITCHBOARD_URL: source.url });
    expect(day2.code, day2.stderr).toBe(0);
    expect(
      day2.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).data.i),
    ).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
  });

  it("import reads an export from stdin, keeps the ids, and a second run stores nothing", async () => {
    const file = join(dir, "events.ndjson");
    const exported = await cli(["export", "--topic", "backup.orders", "--url", source.url], {});
    writeFileSync(file, exported.stdout);

    const first = await cli(["import", "--batch-size", "30"], { SWITCHBOARD_URL: target.url }, file);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ imported: 80, skipped: 0 });
    const second = await cli(["import", "--json"], { SWITCHBOARD_URL: target.url }, file);
    expect(JSON.parse(second.stdout)).toEqual({ imported: 0, skipped: 80 });

    const copied: EventOut[] = [];
    for await (const e of new Switchboard({ url: target.url }).events.search({ topic: "backup.orders" })) copied.push(e);
    const kept = ({ seq: _s, received_at: _r, ...rest }: EventOut) => rest;
    expect(copied.map(kept)).toEqual(published.map(kept));
  });

  it("import names the line that is not JSON and exits 1", async () => {
    const file = join(dir, "broken.ndjson");
    writeFileSync(file, `${JSON.stringify(published[0])}\n\n{not json\n`);
    const run = await cli(["import"], { SWITCHBOARD_URL: target.url }, file);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("line 3 is not JSON");
  });
});

describe("the CLI's hub commands on the SDK", () => {
  it("prints the hub's errors as {error, details, code, status} on stderr, exit 1", async () => {
    const run = await cli(["subscriptions", "get", "sub_missing"], { SWITCHBOARD_URL: target.url });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stderr)).toEqual({ error: "subscription not found", details: expect.any(String), code: "SB_SUBSCRIPTION_NOT_FOUND", status: 404 });
    const down = await cli(["publish", "t", "{}", "--url", "http://127.0.0.1:9"], {});
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stderr)).toMatchObject({ code: "SB_CLIENT_NETWORK", status: 0 });
  });

  it("replays and lists deliveries through the SDK (no colour, no progress when piped)", async () => {
    const sb = new Switchboard({ url: target.url });
    const sub = await sb.subscriptions.create({ topic: "backup.orders", url: "http://127.0.0.1:9/hook", active: false });
    const replay = await cli(["replay", sub.id, "--from", "2025-01-01", "--to", "2025-01-02"], { SWITCHBOARD_URL: target.url });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toBe(`${JSON.stringify({ replayed: 40 })}\n`);
    expect(replay.stderr).toBe("");
    const page = await cli(["deliveries", "--subscription", sub.id, "--limit", "5"], { SWITCHBOARD_URL: target.url });
    const body = JSON.parse(page.stdout);
    expect(body.data).toHaveLength(5);
    expect(body.next_cursor).toEqual(expect.any(String));
    expect(page.stdout).not.toContain("\x1b[");
  });
});
