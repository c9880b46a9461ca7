import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { createHub, type HubOptions } from "../../src/hub.js";
import { createLogger } from "../../src/log.js";
import { eventually, metricValue, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse } from "../helpers/sse.js";

describe("createHub validates its configuration through the config schema", () => {
  // [options, key named, message]
  const invalid: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ port: -1 }, "port", /must be at least 0, got -1/],
    [{ port: "eighty" }, "port", /expected a whole number, got "eighty"/],
    [{ logLevel: "loud" }, "logLevel", /expected one of fatal, error, warn, info, debug, trace, silent/],
    [{ sseHeartbeatMs: 10 }, "sseHeartbeatMs", /must be at least 100, got 10/],
    [{ autoCreateTopics: "perhaps" }, "autoCreateTopics", /expected true or false/],
    [{ host: 5 }, "host", /expected a string, got 5/],
    [{ basePath: "api" }, "basePath", /must look like \/api/],
    [{ prot: 8080 }, "prot", /unknown configuration key/],
  ];

  it.each(invalid)("refuses %j naming %s", async (options, key, message) => {
    const error = await createHub({ databaseUrl: "sqlite::memory:", ...options } as HubOptions).then(
      () => expect.fail("createHub did not throw"),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe(key);
    expect((error as ConfigError).message).toMatch(message);
  });

  it("fills in the defaults, normalises like loadConfig, skips undefined values and freezes the result", async () => {
    const hub = await createHub({ databaseUrl: "sqlite::memory:", basePath: "/v1/", port: undefined, log: createLogger("silent") });
    try {
      expect(hub.config.basePath).toBe("/v1");
      expect(hub.config.port).toBe(8080);
      expect(Object.isFrozen(hub.config)).toBe(true);
    } finally {
      await hub.close();
    }
  });
});

describe("two hubs in one process", () => {
  let a: TestHub;
  let b: TestHub;
  // Fails on every event here (no `missing` field): each evaluation counts as a filter error.
  const FAILING = encodeURIComponent("data.missing.deep == 1");
  const filterErrors = async (hub: TestHub) => metricValue((await request(`${hub.url}/metrics`)).text, "switchboard_filter_errors_total");

  beforeAll(async () => {
    a = await startTestHub({ allowPrivateTargets: true });
    b = await startTestHub({ allowPrivateTargets: true });
    for (const hub of [a, b]) expect((await postJson(`${hub.url}/api/topics/t/events`, { n: 1 })).status).toBe(201);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("each count their own filter errors: search, streams, webhook subscriptions and replays", async () => {
    // Search: one event read, one failure, on A only.
    expect((await request(`${a.url}/api/events?topic=t&filter=${FAILING}`)).body.data).toEqual([]);
    expect(await filterErrors(a)).toBe(1);
    expect(await filterErrors(b)).toBe(0);

    // A stream on B with the failing filter: B's event fails on B.
    const stream = await openLiveSse(b.url, `/events?topic=t&filter=${FAILING}`);
    try {
      expect((await postJson(`${b.url}/api/topics/t/events`, { n: 2 })).status).toBe(201);
      await eventually("B to count the stream's failure", async () => ((await filterErrors(b)) === 1 ? true : undefined));
    } finally {
      stream.close();
    }

    // A webhook subscription on A with the failing filter, then a replay of it: A counts both, B neither.
    const sub = await postJson(`${a.url}/api/subscriptions`, { url: "http://127.0.0.1:9/hook", topic: "t", filter: "data.missing.deep == 1" });
    expect(sub.status).toBe(201);
    expect((await postJson(`${a.url}/api/topics/t/events`, { n: 3 })).status).toBe(201);
    await eventually("A's dispatcher to count its failure", async () => ((await filterErrors(a)) === 2 ? true : undefined));
    const replay = await postJson(`${a.url}/api/subscriptions/${sub.body.id}/replay`, {});
    expect(replay.body).toEqual({ replayed: 0 });
    expect(await filterErrors(a)).toBe(4); // the replay read both of A's events
    expect(await filterErrors(b)).toBe(1);
  });
});
