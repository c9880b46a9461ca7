import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { isLoopbackHost } from "../../src/server.js";
import { startTestHub } from "../helpers/hub.js";

describe("refusing to start open to the network", () => {
  it("throws ConfigError on 0.0.0.0 with no credential, naming SWITCHBOARD_AUTH=none and the credential settings", async () => {
    const error = await startTestHub({ host: "0.0.0.0" }).then(
      (hub) => hub.close().then(() => expect.fail("the hub started")),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain("SWITCHBOARD_AUTH=none");
    expect(message).toContain("SWITCHBOARD_JWT_SECRET");
    expect(message).toContain("SWITCHBOARD_JWKS_URL");
  });

  it("starts on 0.0.0.0 with SWITCHBOARD_AUTH=none", async () => {
    const hub = await startTestHub({ host: "0.0.0.0", auth: "none" });
    await hub.close();
  });

  it("starts on 0.0.0.0 with a JWT secret", async () => {
    const hub = await startTestHub({ host: "0.0.0.0", jwtSecret: "a-secret-a-secret-a-secret-a-secret" });
    await hub.close();
  });

  it.each<[string, boolean]>([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["::1", true],
    ["[::1]", true],
    ["::ffff:127.0.0.1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["128.0.0.1", false],
    ["example.com", false],
  ])("isLoopbackHost(%j) is %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
