import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { spawnNode, type Child } from "../helpers/process.js";

let hub: TestHub;
const children: Child[] = [];

beforeAll(async () => {
  hub = await startTestHub();
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await child.exited;
  }
});
afterAll(() => hub.close());

function cli(args: string[], env: Record<string, string> = {}): Child {
  const child = spawnNode("src/cli/index.ts", args, { SWITCHBOARD_URL: hub.url, ...env });
  children.push(child);
  return child;
}

describe("switchboard publish", () => {
  it("publishes the JSON as the data of an event and prints the result", async () => {
    const child = cli(["publish", "cli.orders", '{"order_id":7,"total":9.5}', "--type", "order.created", "--key", "c-1"]);
    const exit = await child.exited;
    expect(exit.code, child.stderr).toBe(0);
    const lines = child.stdout.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!);
    expect(result).toEqual({ id: expect.stringMatching(/^evt_/), seq: expect.any(Number), topic: "cli.orders" });

    const stored = await request(`${hub.url}/api/events/${result.id}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ topic: "cli.orders", type: "order.created", key: "c-1", data: { order_id: 7, total: 9.5 } });
  });

  it("takes --url and an id, and a repeat stores nothing new", async () => {
    const args = ["publish", "cli.ids", '"hello"', "--id", "cli-once", "--url", hub.url];
    const first = cli(args, { SWITCHBOARD_URL: "http://127.0.0.1:1" });
    expect((await first.exited).code, first.stderr).toBe(0);
    const second = cli(args, { SWITCHBOARD_URL: "http://127.0.0.1:1" });
    expect((await second.exited).code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual(JSON.parse(first.stdout));
    expect((await request(`${hub.url}/api/topics/cli.ids`)).body.event_count).toBe(1);
  });

  it("exits 1 with the hub's error for a bad topic, and for JSON that is not JSON", async () => {
    const badTopic = cli(["publish", "bad topic", "{}"]);
    expect((await badTopic.exited).code).toBe(1);
    expect(badTopic.stderr).toContain("400");
    expect(badTopic.stderr).toContain("SB_TOPIC_INVALID");

    const badJson = cli(["publish", "cli.bad", "{not json"]);
    expect((await badJson.exited).code).toBe(1);
    expect(badJson.stderr).toContain("not valid JSON");
    expect((await request(`${hub.url}/api/topics/cli.bad`)).status).toBe(404);
  });
});

describe("switchboard tail", () => {
  it("prints live events of the topic as JSON envelopes, one per line", async () => {
    const streamsBefore = hub.server.hub.streams.size;
    const child = cli(["tail", "cli.tail.*"]);
    // Connected once the hub counts one more stream.
    await eventually("tail to connect", () => (hub.server.hub.streams.size > streamsBefore ? true : undefined), 15_000);

    await postJson(`${hub.url}/api/events?topic=cli.other`, { skip: true });
    const posted = await postJson(`${hub.url}/api/events`, { topic: "cli.tail.a", type: "t", data: { n: 1 } });
    expect(posted.status).toBe(201);
    await child.waitForStdout("\n");

    const line = child.stdout.split("\n")[0]!;
    expect(JSON.parse(line)).toMatchObject({ id: posted.body.id, seq: posted.body.seq, topic: "cli.tail.a", type: "t", data: { n: 1 } });

    const second = await postJson(`${hub.url}/api/events?topic=cli.tail.b`, { n: 2 });
    await eventually("a second line", () => (child.stdout.split("\n").length >= 3 ? true : undefined));
    const lines = child.stdout.split("\n").filter((l) => l !== "");
    expect(lines.map((l) => JSON.parse(l).id)).toEqual([posted.body.id, second.body.id]);

    child.kill("SIGTERM");
    const exit = await child.exited;
    expect(exit.signal).toBe("SIGTERM");
  });

  it("replays from --from before going live", async () => {
    const a = await postJson(`${hub.url}/api/events?topic=cli.from`, { n: 1 });
    const b = await postJson(`${hub.url}/api/events?topic=cli.from`, { n: 2 });
    const child = cli(["tail", "cli.from", "--from", a.body.id]);
    await child.waitForStdout("\n");
    expect(JSON.parse(child.stdout.split("\n")[0]!)).toMatchObject({ id: b.body.id, data: { n: 2 } });
  });
});

describe("switchboard serve with a bad flag value", () => {
  const cases: [string[], string][] = [
    [["--port", "abc"], "--port"],
    [["-p", "70000"], "--port"],
    [["--port", "1.5"], "--port"],
    [["--port=-1"], "--port"],
    [["--log-level", "loud"], "--log-level"],
    [["--role", "boss"], "--role"],
  ];
  it("serve --port abc (and every other bad flag value) → exit 2 and one stderr line naming the flag", async () => {
    // One process per case, side by side; each exits by itself.
    const runs = cases.map(([args, flag]) => ({
      args,
      flag,
      child: spawnNode("src/cli/index.ts", ["serve", ...args], { PORT: "0", DATABASE_URL: "sqlite::memory:" }),
    }));
    for (const { args, flag, child } of runs) {
      const exit = await child.exited;
      expect(exit.code, `${args.join(" ")}: ${child.stderr}`).toBe(2);
      const lines = child.stderr.split("\n").filter((l) => l !== "");
      expect(lines, args.join(" ")).toHaveLength(1);
      expect(lines[0]).toMatch(/^switchboard: invalid configuration: /);
      expect(lines[0]).toContain(`${flag}:`);
      expect(child.stdout).toBe("");
    }
  });
});
