import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { request, startTestHub, type TestHub } from "../helpers/hub.js";
import { spawnNode, type Child } from "../helpers/process.js";

let hub: TestHub;
const children: Child[] = [];

beforeAll(async () => {
  hub = await startTestHub({ allowPrivateTargets: true, logLevel: "silent" });
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await child.exited;
  }
});
afterAll(() => hub.close());

/** Runs the CLI against the test hub to its end; returns the exit code and the parsed stdout. */
async function cli(args: string[]): Promise<{ code: number | null; json: any; stderr: string }> {
  const child = spawnNode("src/cli/index.ts", args, { SWITCHBOARD_URL: hub.url });
  children.push(child);
  const exit = await child.exited;
  return { code: exit.code, json: child.stdout.trim() === "" ? undefined : JSON.parse(child.stdout), stderr: child.stderr };
}

// Nothing listens on port 9: deliveries would fail, which this test does not look at.
const TARGET = "http://127.0.0.1:9/hook";

describe("switchboard subscriptions", () => {
  it("creates, lists, pauses, resumes and deletes a subscription", async () => {
    const created = await cli([
      "subscriptions",
      "create",
      "--topic",
      "cli.subs.*",
      "--url",
      TARGET,
      "--filter",
      "data.n > 1",
      "--header",
      "x-team=payments",
      "--ordering",
      "key",
      "--body",
      "envelope",
      "--start",
      "beginning",
    ]);
    expect(created.code, created.stderr).toBe(0);
    const sub = created.json;
    expect(sub).toMatchObject({
      id: expect.stringMatching(/^sub_/),
      topic: "cli.subs.*",
      url: TARGET,
      filter: "data.n > 1",
      headers: { "x-team": "payments" },
      secret: expect.stringMatching(/^whsec_/),
      active: true,
      ordering: "key",
      body: "envelope",
    });

    const listed = await cli(["subscriptions", "list"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.json.data.map((s: { id: string }) => s.id)).toContain(sub.id);
    expect(listed.json.data.find((s: { id: string }) => s.id === sub.id).secret).toBeUndefined();

    const got = await cli(["subscriptions", "get", sub.id]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.json).toMatchObject({ id: sub.id, topic: "cli.subs.*" });

    const paused = await cli(["subscriptions", "pause", sub.id]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.json).toMatchObject({ id: sub.id, active: false });
    expect((await request(`${hub.url}/api/subscriptions/${sub.id}`)).body.active).toBe(false);

    const resumed = await cli(["subscriptions", "resume", sub.id]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json).toMatchObject({ id: sub.id, active: true });

    const deliveries = await cli(["deliveries", "--subscription", sub.id, "--status", "dead"]);
    expect(deliveries.code, deliveries.stderr).toBe(0);
    expect(deliveries.json).toEqual({ data: [], next_cursor: null });

    const deleted = await cli(["subscriptions", "delete", sub.id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.json).toEqual({ deleted: sub.id });
    expect((await request(`${hub.url}/api/subscriptions/${sub.id}`)).status).toBe(404);
  });

  it("prints the hub's error and exits 1", async () => {
    const missing = await cli(["subscriptions", "get", "sub_nope"]);
    expect(missing.code).toBe(1);
    expect(missing.json).toBeUndefined();
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: "subscription not found", code: "SB_SUBSCRIPTION_NOT_FOUND" });

    const invalid = await cli(["subscriptions", "create", "--topic", "cli.bad", "--url", TARGET, "--ordering", "sideways"]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stderr)).toMatchObject({ code: "SB_SUBSCRIPTION_INVALID", details: expect.stringContaining("ordering") });

    const badReplay = await cli(["replay", "sub_nope", "--from", "2024-01-01T00:00:00Z"]);
    expect(badReplay.code).toBe(1);
    expect(JSON.parse(badReplay.stderr)).toMatchObject({ code: "SB_SUBSCRIPTION_NOT_FOUND" });
  });

  it("replays a time range and retries dead deliveries", async () => {
    const sub = (await cli(["subscriptions", "create", "--topic", "cli.replay", "--url", TARGET])).json;
    await request(`${hub.url}/api/subscriptions/${sub.id}/pause`, { method: "POST" });
    const replay = await cli(["replay", sub.id, "--from", "2000-01-01T00:00:00Z"]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.json).toEqual({ replayed: 0 });
    const retry = await cli(["subscriptions", "retry", sub.id, "--from", "2000-01-01T00:00:00Z"]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.json).toEqual({ retried: 0 });
  });
});
