import { describe, expect, it } from "vitest";
import { mqttDriver } from "./mqtt/mqtt-driver.js";
import { supportedSchemes } from "./registry.js";
import { allowPrivate, describeDestinationUrls, refusal } from "../../../test/helpers/destination-urls.js";

// The MQTT rows of the url table (registry.test.ts has the shared ones and NATS).
describeDestinationUrls("mqtt", {
  accepts: [
    ["mqtt://127.0.0.1:1883/orders", "mqtt://127.0.0.1:1883/orders"],
    ["mqtt://broker/orders/eu/created", "mqtt://broker/orders/eu/created"],
    ["mqtts://app:pw@broker:8884/orders", "mqtts://app:pw@broker:8884/orders"],
    ["MQTT://broker/a%2Fb", "mqtt://broker/a%2Fb"],
    ["mqtt://broker/with%20space", "mqtt://broker/with%20space"],
    ["mqtt://broker/$SYS/x", "mqtt://broker/$SYS/x"],
    ["mqtt://[::1]:1883/x", "mqtt://[::1]:1883/x"],
  ],
  refuses: [
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
  ],
  masks: [
    ["mqtt://app:s3cret@broker:1883/orders", "mqtt://app:****@broker:1883/orders"],
    ["mqtts://tok3n@broker/orders", "mqtts://****@broker/orders"],
    ["mqtt://broker/orders", "mqtt://broker/orders"],
  ],
});

describe("validateDestinationUrl: mqtt", () => {
  it("refuses a topic longer than MQTT can carry", async () => {
    const error = await refusal(`mqtt://broker/${"a".repeat(65_536)}`, allowPrivate);
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
