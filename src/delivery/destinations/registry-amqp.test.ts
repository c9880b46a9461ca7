import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../store/store.js";
import { amqpDriver } from "./amqp/amqp-driver.js";
import { routingKeyFor } from "./amqp/amqp-url.js";
import { maskDestinationUrl } from "./registry.js";
import { describeDestinationUrls, refusal } from "../../../test/helpers/destination-urls.js";

describeDestinationUrls("amqp", {
  accepts: [
    ["amqp://guest:guest@127.0.0.1:5672/?exchange=orders&routing_key=created", "amqp://guest:guest@127.0.0.1:5672/?exchange=orders&routing_key=created"],
    ["amqp://broker?exchange=orders", "amqp://broker?exchange=orders"],
    ["amqps://app:pw@broker:5671/prod?exchange=orders&routing_key={key}", "amqps://app:pw@broker:5671/prod?exchange=orders&routing_key={key}"],
    ["amqp://broker/%2F?exchange=orders&routing_key=%7Btopic%7D", "amqp://broker/%2F?exchange=orders&routing_key=%7Btopic%7D"],
    ["amqp://broker/?routing_key=work-queue", "amqp://broker/?routing_key=work-queue"],
    ["AMQP://broker/?exchange=x", "amqp://broker/?exchange=x"],
  ],
  refuses: [
    ["amqp:///?exchange=x", /needs a host/],
    ["amqp://broker/", /needs exchange=<name>, or a routing_key naming the queue/],
    ["amqp://broker/?exchange=", /needs exchange=<name>/],
    ["amqp://broker/a/b?exchange=x", /vhost, one segment: write a \/ in the vhost as %2F/],
    ["amqp://broker/%E0%A4%A?exchange=x", /vhost is not valid percent-encoding/],
    ["amqp://broker/?exchange=x&routingkey=y", /parameter "routingkey" is unknown; it takes exchange and routing_key/],
    ["amqp://broker/?exchange=x&heartbeat=5", /parameter "heartbeat" is unknown/],
    ["amqp://broker/?exchange=x&exchange=y", /parameter exchange is given more than once/],
    ["amqp://broker/?exchange=x&routing_key={type}", /routing_key "\{type\}" is not a placeholder; the placeholders are \{key\} and \{topic\}/],
    [`amqp://broker/?exchange=${"e".repeat(256)}`, /exchange is 256 bytes; AMQP allows at most 255/],
    [`amqp://broker/?exchange=x&routing_key=${"r".repeat(300)}`, /routing_key is 300 bytes/],
    ["amqp://broker/?exchange=x#frag", /takes no fragment/],
    ["amqp://guest:****@broker/?exchange=x", /masked credential/],
    ["ftp://example.com/x", /is not supported; supported: http, https, .*\bamqp, amqps\b/],
  ],
});

describe("validateDestinationUrl: amqp", () => {
  it("applies the target guard to the broker host", async () => {
    const error = await refusal("amqp://127.0.0.1:5672/?exchange=x", { allowPrivate: false });
    expect(error.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(error.details).toMatch(/127\.0\.0\.1 is not a public address/);
  });

  it("masks the password, keeps routing_key (a `key`-like name) as it is", () => {
    expect(maskDestinationUrl("amqp://app:s3cret@broker/prod?exchange=x&routing_key={key}")).toBe("amqp://app:****@broker/prod?exchange=x&routing_key={key}");
    expect(maskDestinationUrl("amqps://broker/?exchange=x")).toBe("amqps://broker/?exchange=x");
  });
});

describe("amqpDriver.parseUrl", () => {
  const parse = (url: string) => amqpDriver.parseUrl(new URL(url));

  it("keys the pool by scheme, host, port, credentials and vhost; labels without credentials", () => {
    expect(parse("amqp://app:pw@broker/?exchange=orders&routing_key=eu")).toMatchObject({
      endpointKey: "amqp://app:pw@broker:5672/%2F",
      endpointLabel: "amqp://broker:5672",
      host: "broker",
      vhost: "/",
      exchange: "orders",
      routingKey: "eu",
      tls: false,
      address: 'exchange "orders" (routing key "eu")',
    });
    expect(parse("amqps://app:pw@[::1]/prod%2Feu?exchange=x")).toMatchObject({
      endpointKey: "amqps://app:pw@[::1]:5671/prod%2Feu",
      endpointLabel: "amqps://[::1]:5671/prod%2Feu",
      host: "::1",
      vhost: "prod/eu",
      tls: true,
    });
  });

  it.each([
    ["amqp://broker?exchange=x", "/"],
    ["amqp://broker/?exchange=x", "/"],
    ["amqp://broker/%2F?exchange=x", "/"],
    ["amqp://broker/%2f?exchange=x", "/"],
    ["amqp://broker/prod?exchange=x", "prod"],
    ["amqp://broker/caf%C3%A9?exchange=x", "café"],
  ])("vhost of %s is %s", (url, vhost) => {
    expect(parse(url).vhost).toBe(vhost);
  });

  it("takes the default exchange when none is given: the routing key is the queue", () => {
    expect(parse("amqp://broker/?routing_key=jobs")).toMatchObject({ exchange: "", routingKey: "jobs" });
  });

  it("fills the routing key from the event: {key}, {topic}, or the fixed one", () => {
    const event = { key: "customer-7", topic: "orders.created" } as StoredEvent;
    expect(routingKeyFor(parse("amqp://b/?exchange=x&routing_key={key}"), event)).toBe("customer-7");
    expect(routingKeyFor(parse("amqp://b/?exchange=x&routing_key={topic}"), event)).toBe("orders.created");
    expect(routingKeyFor(parse("amqp://b/?exchange=x&routing_key=fixed.{key}"), event)).toBe("fixed.{key}");
    expect(routingKeyFor(parse("amqp://b/?exchange=x&routing_key={key}"), { ...event, key: null })).toBe("");
    expect(() => routingKeyFor(parse("amqp://b/?exchange=x&routing_key={key}"), { ...event, key: "é".repeat(128) })).toThrow(
      /routing key \{key\} is 256 bytes for this event; AMQP allows at most 255/,
    );
  });
});
