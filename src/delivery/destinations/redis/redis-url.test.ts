import { describe, expect, it } from "vitest";
import { HubError } from "../../../errors.js";
import { supportedSchemes, validateDestinationUrl } from "../registry.js";
import { redisDriver } from "./redis-driver.js";
import { describeDestinationUrls } from "../../../../test/helpers/destination-urls.js";

describeDestinationUrls("redis", {
  accepts: [
    ["redis://127.0.0.1:6379/0?stream=orders", "redis://127.0.0.1:6379/0?stream=orders"],
    ["redis://broker/3?stream=orders&maxlen=1000", "redis://broker/3?stream=orders&maxlen=1000"],
    ["redis://broker?channel=orders.created", "redis://broker?channel=orders.created"],
    ["rediss://app:pw@broker:6380/0?channel=c", "rediss://app:pw@broker:6380/0?channel=c"],
    ["redis://:pw@broker/0?stream=a%20b", "redis://:pw@broker/0?stream=a%20b"],
    ["REDIS://broker/0?stream=s", "redis://broker/0?stream=s"],
  ],
  refuses: [
    ["redis://127.0.0.1:6379/0", /needs \?stream=S \(XADD\) or \?channel=C \(PUBLISH\)/],
    ["redis://127.0.0.1:6379/0?stream=a&channel=b", /stream or channel, not both/],
    ["redis://127.0.0.1:6379/0?stream=", /stream name is empty/],
    ["redis://127.0.0.1:6379/x?stream=s", /path must be the database number .*got "\/x"/],
    ["redis://127.0.0.1:6379/-1?stream=s", /path must be the database number/],
    ["redis://127.0.0.1:6379/1.5?stream=s", /path must be the database number/],
    ["redis://127.0.0.1:6379/0/s?stream=s", /path must be the database number/],
    ["redis://127.0.0.1:6379/0?stream=s&maxlen=0", /maxlen must be a positive whole number, got "0"/],
    ["redis://127.0.0.1:6379/0?stream=s&maxlen=-5", /maxlen must be a positive whole number/],
    ["redis://127.0.0.1:6379/0?stream=s&maxlen=1e3", /maxlen must be a positive whole number/],
    ["redis://127.0.0.1:6379/0?stream=s&maxlen=99999999999999999", /maxlen must be a positive whole number/],
    ["redis://127.0.0.1:6379/0?channel=c&maxlen=10", /maxlen applies to a stream, not a channel/],
    ["redis://127.0.0.1:6379/0?stream=s&steam=t", /parameter "steam" is not known/],
    ["redis://127.0.0.1:6379/0?stream=s&stream=t", /parameter stream is given twice/],
    ["redis://127.0.0.1:6379/0?stream=s#x", /no fragment/],
    ["redis://app@127.0.0.1:6379/0?stream=s", /not a lone user name/],
    ["redis://app:****@127.0.0.1:6379/0?stream=s", /masked credential/],
    ["redis:///0?stream=s", /needs a host/],
  ],
  masks: [
    ["redis://app:s3cret@broker:6379/0?stream=s", "redis://app:****@broker:6379/0?stream=s"],
    ["rediss://:s3cret@broker/0?channel=c", "rediss://:****@broker/0?channel=c"],
    ["redis://broker/0?stream=s", "redis://broker/0?stream=s"],
  ],
});

describe("validateDestinationUrl: redis", () => {
  it("applies the target guard to redis hosts", async () => {
    const error = await validateDestinationUrl("redis://127.0.0.1/0?stream=s", { allowPrivate: false }).catch((e: unknown) => e as HubError);
    expect((error as HubError).code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
  });

  it("lists redis and rediss among the supported schemes", () => {
    expect(supportedSchemes()).toEqual(expect.arrayContaining(["redis", "rediss"]));
  });
});

describe("redisDriver.parseUrl", () => {
  it("keys the pool by scheme, host, port, credentials and database; labels without credentials", () => {
    const t = redisDriver.parseUrl(new URL("redis://app:pw@broker/2?stream=orders&maxlen=500"));
    expect(t).toMatchObject({
      endpointKey: "redis://app:pw@broker:6379/2",
      endpointLabel: "redis://broker:6379/2",
      host: "broker",
      address: "stream orders",
      db: 2,
      mode: "stream",
      name: "orders",
      maxlen: 500,
      tls: false,
    });
    expect(redisDriver.parseUrl(new URL("rediss://[::1]:6380?channel=a%2Fb"))).toMatchObject({
      endpointKey: "rediss://[::1]:6380/0",
      endpointLabel: "rediss://[::1]:6380",
      host: "::1",
      address: "channel a/b",
      db: 0,
      mode: "channel",
      name: "a/b",
      maxlen: undefined,
      tls: true,
    });
  });
});
