import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { createHub, type HubOptions } from "../../src/hub.js";
import { createLogger } from "../../src/log.js";

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
