import { describe, expect, it } from "vitest";
import { HubError } from "../../errors.js";
import { mqttDriver } from "./mqtt/mqtt-driver.js";
import { maskDestinationUrl, supportedSchemes, validateDestinationUrl } from "./registry.js";

// The MQTT rows of the url table (registry.test.ts has the shared ones and NATS).
const allow = { allowPrivate: true };

async function refusal(url: string, options = allow): Promise<HubError> {
  const error = await validateDestinationUrl(url, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(HubError);
  return error as HubError;
}

describe("validateDestinationUrl: mqtt", () => {
  it.each([
    ["mqtt://127.0.0.1:1883/orders", "mqtt://127.0.0.1:1883/orders"],
    ["mqtt://broker/orders/eu/created", "mqtt://broker/orders/eu/created"],
    ["mqtts://app:pw@broker:8884/orders", "mqtts://app:pw@broker:8884/orders"],
    ["MQTT://broker/a%2Fb", "mqtt://broker/a%2Fb"],
    ["mqtt://broker/with%20space", "mqtt://broker/with%20space"],
    ["mqtt://broker/$SYS/x", "mqtt://broker/$SYS/x"],
    ["mqtt://[::1]:1883/x", "mqtt://[::1]:1883/x"],
  ])("accepts %s", async (url, stored) => {
    expect(await validateDestinationUrl(url, allow)).toBe(stored);
  });

  it.each([
    ["mqtt://127.0.0.1:1883", /needs a topic/],
    ["mqtt://127.0.0.1:1883/", /needs a topic/],
    ["mqtt://127.0.0.1:1883/orders/+", /no wildcards \(\+ #\)/],
    ["mqtt://127.0.0.1:1883/orders/#", /no wildcards \(\+ #\)/],
    ["mqtt://127.0.0.1:1883/orders#x", /no wildcards \(\+ #\), and the url no fragment/],
    ["mqtt://127.0.0.1:1883/orders?", /no query or fragment/],
    ["mqtt://127.0.0.1:1883/orders/%23", /no wildcards \(\+ #\)/],
    ["mqtt://127.0.0.1:1883/orders/%2B/x", /no wildcards \(\+ #\)/],
    ["mqtt://127.0.0.1:1883/a%00b", /null character/],
    ["mqtt://127.0.0.1:1883/%E0%A4%A", /not valid percent-encoding/],
    ["mqtt://127.0.0.1:1883/orders?qos=2", /no query or fragment/],
    ["mqtt:///orders", /needs a host/],
    ["mqtts://app:****@broker/orders", /masked credential/],
  ])("refuses %s with SB_SUBSCRIPTION_INVALID", async (url, message) => {
    const error = await refusal(url);
    expect(error.code).toBe("SB_SUBSCRIPTION_INVALID");
    expect(error.details).toMatch(message);
  });

  it("refuses a topic longer than MQTT can carry", async () => {
    const error = await refusal(`mqtt://broker/${"a".repeat(65_536)}`, allow);
    expect(error.code).toBe("SB_SUBSCRIPTION_INVALID");
  });

  it("applies the target guard to MQTT hosts", async () => {
    const error = await refusal("mqtt://127.0.0.1:1883/orders", { allowPrivate: false });
    expect(error.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
  });

  it("lists mqtt and mqtts among the supported schemes", () => {
    expect(supportedSchemes()).toEqual(expect.arrayContaining(["mqtt", "mqtts"]));
  });
});

describe("mqtt masking and parsing", () => {
  it.each([
    ["mqtt://app:s3cret@broker:1883/orders", "mqtt://app:****@broker:1883/orders"],
    ["mqtts://tok3n@broker/orders", "mqtts://****@broker/orders"],
    ["mqtt://broker/orders", "mqtt://broker/orders"],
  ])("maskDestinationUrl(%s)", (url, masked) => {
    expect(maskDestinationUrl(url)).toBe(masked);
  });

  it("keys the pool by scheme, host, port and credentials; 1883 and 8883 by default; the topic decoded", () => {
    expect(mqttDriver.parseUrl(new URL("mqtt://app:pw@broker/orders%2Feu/created"))).toMatchObject({
      endpointKey: "mqtt://app:pw@broker:1883",
      endpointLabel: "mqtt://broker:1883",
      host: "broker",
      address: "topic orders/eu/created",
      topic: "orders/eu/created",
      tls: false,
    });
    expect(mqttDriver.parseUrl(new URL("mqtts://broker/x"))).toMatchObject({ endpointLabel: "mqtts://broker:8883", tls: true });
    expect(mqttDriver.parseUrl(new URL("mqtt://[::1]:1884/x")).host).toBe("::1");
  });
});
