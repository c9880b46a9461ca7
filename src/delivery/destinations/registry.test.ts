import { describe, expect, it } from "vitest";
import { HubError } from "../../errors.js";
import { maskUrlCredentials, restoreMaskedCredentials } from "./broker-url.js";
import { natsDriver } from "./nats/nats-driver.js";
import { maskDestinationUrl, restoreMaskedDestinationUrl, supportedSchemes } from "./registry.js";
import { describeDestinationUrls, refusal } from "../../../test/helpers/destination-urls.js";

describeDestinationUrls("nats", {
  accepts: [
    ["https://example.com/hook", "https://example.com/hook"],
    ["nats://127.0.0.1:4222/orders.created", "nats://127.0.0.1:4222/orders.created"],
    ["nats://broker/orders", "nats://broker/orders"],
    ["nats+tls://app:pw@broker:4443/a.b.c", "nats+tls://app:pw@broker:4443/a.b.c"],
    ["NATS://broker/orders", "nats://broker/orders"],
  ],
  refuses: [
    ["ftp://example.com/x", /url scheme "ftp" is not supported; supported: http, https, nats, nats\+tls/],
    ["nats://127.0.0.1:4222", /needs a subject/],
    ["nats://127.0.0.1:4222/a..b", /not a subject to publish to/],
    ["nats://127.0.0.1:4222/orders.>", /no wildcards/],
    ["nats://127.0.0.1:4222/has%20space", /no wildcards \(\* >\) or spaces/],
    ["nats://127.0.0.1:4222/a?token=x", /no query or fragment/],
    ["nats://127.0.0.1:4222/orders#", /no query or fragment/],
    ["nats://127.0.0.1:4222/orders#x", /no query or fragment/],
    ["nats://127.0.0.1:4222/orders?", /no query or fragment/],
    ["nats:///orders", /needs a host/],
    ["nats://app:****@broker/orders", /masked credential/],
    ["https://user:pw@example.com/hook", /must not carry credentials/],
  ],
});

describe("validateDestinationUrl", () => {
  it("applies the target guard to broker hosts", async () => {
    const error = await refusal("nats://127.0.0.1:4222/orders", { allowPrivate: false });
    expect(error.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(error.details).toMatch(/127\.0\.0\.1 is not a public address/);
    expect((await refusal("nats://224.0.0.1/orders")).code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
  });

  it("lists the webhook schemes first, then each driver's", () => {
    expect(supportedSchemes()).toEqual(["http", "https", "nats", "nats+tls", "amqp", "amqps", "mqtt", "mqtts", "redis", "rediss"]);
  });
});

describe("masking", () => {
  it.each([
    ["nats://app:s3cret@broker:4222/orders", "nats://app:****@broker:4222/orders"],
    ["nats://tok3n@broker:4222/orders", "nats://****@broker:4222/orders"],
    ["nats://broker:4222/orders", "nats://broker:4222/orders"],
    ["redis://broker/0?stream=s&password=pw", "redis://broker/0?stream=s&password=****"],
  ])("maskUrlCredentials(%s)", (url, masked) => {
    expect(maskUrlCredentials(url)).toBe(masked);
  });

  it("leaves webhook urls alone (their credentials go in headers)", () => {
    expect(maskDestinationUrl("https://example.com/hook?token=abc")).toBe("https://example.com/hook?token=abc");
    expect(maskDestinationUrl("nats+tls://a:b@broker/x")).toBe("nats+tls://a:****@broker/x");
  });
});

describe("restoreMaskedCredentials: a masked url sent back keeps the stored credential", () => {
  const stored = "amqp://app:s%3Acret@broker:5672/vh?exchange=x&routing_key={key}&token=t0k";
  it.each([
    // Exactly as GET showed it: the stored url, byte for byte.
    [maskUrlCredentials(stored), stored],
    ["nats://app:****@broker/orders", "nats://app:pw@broker/orders", "nats://app:pw@broker/orders"],
    ["nats://****@broker/orders", "nats://tok3n@broker/orders", "nats://tok3n@broker/orders"],
    // Same endpoint, another query: the masks are filled in, the rest is what was sent.
    ["amqp://app:****@broker:5672/vh?exchange=y&token=****", stored, "amqp://app:s%3Acret@broker:5672/vh?exchange=y&token=t0k"],
    ["redis://:****@broker/0?stream=s2", "redis://:pw@broker/0?stream=s", "redis://:pw@broker/0?stream=s2"],
    // No mask: as sent (the validation that follows judges it).
    ["nats://app:new@elsewhere/orders", "nats://app:pw@broker/orders", "nats://app:new@elsewhere/orders"],
  ])("%s", (sent, was, restored = was) => {
    expect(restoreMaskedCredentials(sent, was)).toBe(restored);
  });

  it.each([
    ["nats://app:****@evil.example/orders", "nats://app:pw@broker/orders", /another endpoint than the stored nats:\/\/app:\*\*\*\*@broker\/orders/],
    ["nats://app:****@broker:4223/orders", "nats://app:pw@broker/orders", /another endpoint/],
    ["nats://app:****@broker/payments", "nats://app:pw@broker/orders", /another endpoint/],
    ["nats+tls://app:****@broker/orders", "nats://app:pw@broker/orders", /another endpoint/],
    ["nats://other:****@broker/orders", "nats://app:pw@broker/orders", /another endpoint/],
    ["nats://app:****@broker/orders", "nats://app@broker/orders", /masks the password \(\*\*\*\*\) but the stored url has none/],
    ["redis://broker/0?stream=s&password=****", "redis://broker/0?stream=s", /masks the password parameter/],
  ])("refuses %s (stored %s)", (sent, was, message) => {
    let error: unknown;
    try {
      restoreMaskedCredentials(sent, was);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("SB_SUBSCRIPTION_INVALID");
    expect((error as HubError).details).toMatch(message);
    expect((error as HubError).details).not.toContain("pw");
  });

  it("leaves webhook urls alone: GET never masks them, so **** there is the sender's own value", () => {
    expect(restoreMaskedDestinationUrl("https://example.com/hook?token=****", "https://example.com/hook?token=abc")).toBe(
      "https://example.com/hook?token=****",
    );
    expect(restoreMaskedDestinationUrl("nats://app:****@broker/x", "nats://app:pw@broker/x")).toBe("nats://app:pw@broker/x");
  });
});

describe("natsDriver.parseUrl", () => {
  it("keys the pool by scheme, host, port and credentials, and labels without credentials", () => {
    const t = natsDriver.parseUrl(new URL("nats://app:pw@broker/orders.eu"));
    expect(t).toMatchObject({
      endpointKey: "nats://app:pw@broker:4222",
      endpointLabel: "nats://broker:4222",
      host: "broker",
      subject: "orders.eu",
      tls: false,
    });
    expect(natsDriver.parseUrl(new URL("nats+tls://[::1]:4443/x")).host).toBe("::1");
  });
});
