import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { HubError } from "../../errors.js";
import { type CallbackLookupFn, type LookupFn, guardedLookup, isPrivateAddress, PRIVATE_TARGET_ERROR_CODE, validateTargetUrl } from "./target-guard.js";

describe("isPrivateAddress", () => {
  it.each<[string, boolean]>([
    // IPv4 ranges, with the addresses just inside and just outside each edge.
    ["0.0.0.0", true],
    ["0.255.255.255", true],
    ["1.0.0.0", false],
    ["9.255.255.255", false],
    ["10.0.0.1", true],
    ["10.255.255.255", true],
    ["11.0.0.0", false],
    ["100.63.255.255", false],
    ["100.64.0.0", true],
    ["100.127.255.255", true],
    ["100.128.0.0", false],
    ["126.255.255.255", false],
    ["127.0.0.1", true],
    ["127.255.255.254", true],
    ["128.0.0.0", false],
    ["169.253.255.255", false],
    ["169.254.169.254", true],
    ["169.255.0.0", false],
    ["172.15.255.255", false],
    ["172.16.0.0", true],
    ["172.31.255.255", true],
    ["172.32.0.0", false],
    ["192.0.0.1", true],
    ["192.0.1.0", false],
    ["192.0.2.1", true],
    ["192.167.255.255", false],
    ["192.168.1.1", true],
    ["192.169.0.0", false],
    ["198.17.255.255", false],
    ["198.18.0.0", true],
    ["198.19.255.255", true],
    ["198.20.0.0", false],
    ["223.255.255.255", false],
    ["224.0.0.1", true],
    ["239.255.255.250", true],
    ["240.0.0.1", true],
    ["255.255.255.255", true],
    ["8.8.8.8", false],
    ["93.184.216.34", false],
    // IPv6.
    ["::", true],
    ["::1", true],
    ["0:0:0:0:0:0:0:1", true],
    ["fc00::1", true],
    ["fd12:3456:789a::1", true],
    ["fbff:ffff::1", true],
    ["fe80::1", true],
    ["fe80::1%eth0", true],
    ["febf:ffff::1", true],
    ["fec0::1", true],
    ["ff02::1", true],
    ["2001:4860:4860::8888", false],
    ["2606:4700:4700::1111", false],
    ["[::1]", true],
    ["[2001:db8::1]", true],
    // IPv6 carrying IPv4: judged by the IPv4 address.
    ["::ffff:127.0.0.1", true],
    ["::ffff:7f00:1", true],
    ["::ffff:a00:1", true],
    ["::ffff:8.8.8.8", false],
    ["::ffff:808:808", false],
    ["::127.0.0.1", true],
    ["::8.8.8.8", true],
    ["::ffff:0:127.0.0.1", true],
    ["::ffff:0:8.8.8.8", true],
    ["64:ff9b::127.0.0.1", true],
    ["64:ff9b::a9fe:a9fe", true],
    ["64:ff9b::8.8.8.8", false],
    ["64:ff9b:1::1", true],
    ["2002:7f00:1::1", true],
    ["2002:c0a8:101::", true],
    ["2002:808:808::1", false],
    // Not an address: fail closed.
    ["localhost", true],
    ["", true],
    ["127.1", true],
    ["999.1.1.1", true],
  ])("%s → %s", (ip, expected) => {
    expect(isPrivateAddress(ip)).toBe(expected);
  });
});

function fixedLookup(table: Record<string, string[]>): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (hostname: string, options: { all: true }): Promise<LookupAddress[]> => {
    expect(options.all).toBe(true);
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

async function rejection(promise: Promise<unknown>): Promise<HubError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(HubError);
    return err as HubError;
  }
  throw new Error("expected a rejection");
}

describe("validateTargetUrl", () => {
  const lookup = fixedLookup({
    "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
    "v6only.example.com": ["fd00::5"],
    "empty.example.com": [],
  });

  /** Each of `urls` is accepted, and none of them is looked up in DNS. */
  async function expectAcceptedWithoutLookup(urls: string[], allowPrivate: boolean): Promise<void> {
    const calls = lookup.calls.length;
    for (const url of urls) await expect(validateTargetUrl(url, { allowPrivate, lookup })).resolves.toBeInstanceOf(URL);
    expect(lookup.calls.length).toBe(calls);
  }

  it("returns the parsed URL of a public target", async () => {
    const url = await validateTargetUrl("https://hooks.example.com/in?x=1", { allowPrivate: false, lookup });
    expect(url.href).toBe("https://hooks.example.com/in?x=1");
    expect(lookup.calls).toContain("hooks.example.com");
  });

  it("accepts a public IP literal without resolving it", async () => {
    await expectAcceptedWithoutLookup(["http://8.8.8.8:8080/", "http://[2001:4860:4860::8888]/"], false);
  });

  it.each([
    ["http://127.0.0.1:3000/hook", "127.0.0.1"],
    ["http://[::1]/hook", "::1"],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254"],
    ["http://0x7f.1/", "127.0.0.1"],
    ["http://2130706433/", "127.0.0.1"],
    ["http://0/", "0.0.0.0"],
  ])("refuses the private literal %s", async (url, address) => {
    const err = await rejection(validateTargetUrl(url, { allowPrivate: false, lookup }));
    expect(err.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(err.status).toBe(400);
    expect(err.details).toContain(address);
    expect(err.details).toContain("SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true");
  });

  it.each([
    ["http://[100::1]/", "100::1", "100::/64", "RFC 6666"],
    ["http://[2001::1]/", "2001::1", "2001::/23", "RFC 2928"],
    ["http://[2001:db8::1]/", "2001:db8::1", "2001:db8::/32", "RFC 3849"],
    ["http://192.0.2.1/", "192.0.2.1", "192.0.2.0/24", "RFC 5737"],
  ])("refuses the special-purpose literal %s, naming its range", async (url, address, range, rfc) => {
    const err = await rejection(validateTargetUrl(url, { allowPrivate: false, lookup }));
    expect(err.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(err.details).toContain(address);
    expect(err.details).toContain(range);
    expect(err.details).toContain(rfc);
  });

  it.each([
    ["http://224.0.0.1/", "224.0.0.0/4"],
    ["http://255.255.255.255/", "255.255.255.255/32"],
    ["http://240.0.0.1/", "240.0.0.0/4"],
    ["http://[ff02::1]/", "ff00::/8"],
    ["http://[::ffff:239.1.1.1]/", "224.0.0.0/4"],
  ])("refuses %s even when allowPrivate: no unicast host can listen there", async (url, range) => {
    const err = await rejection(validateTargetUrl(url, { allowPrivate: true, lookup }));
    expect(err.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(err.details).toContain(range);
    expect(err.details).toContain("no webhook receiver can listen there");
    expect(err.details).not.toContain("=true allows");
  });

  it.each([
    ["http://rebind.example.com/", "10.0.0.7"],
    ["http://v6only.example.com/", "fd00::5"],
  ])("refuses %s: one of its addresses is private", async (url, address) => {
    const err = await rejection(validateTargetUrl(url, { allowPrivate: false, lookup }));
    expect(err.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(err.details).toContain(`private address ${address}`);
  });

  it.each(["http://nowhere.invalid/", "http://empty.example.com/"])("refuses %s: it does not resolve", async (url) => {
    const err = await rejection(validateTargetUrl(url, { allowPrivate: false, lookup }));
    expect(err.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
    expect(err.details).toContain("does not resolve");
  });

  it("refuses localhost through the real resolver", async () => {
    const err = await rejection(validateTargetUrl("http://localhost:8080/", { allowPrivate: false }));
    expect(err.code).toBe("SB_WEBHOOK_TARGET_FORBIDDEN");
  });

  it("allows private targets, literal or named, when allowPrivate, without resolving", async () => {
    await expectAcceptedWithoutLookup(["http://127.0.0.1:3000/", "http://rebind.example.com/"], true);
  });

  it.each([
    ["", "absolute http(s) URL"],
    ["/relative/path", "absolute http(s) URL"],
    ["hooks.example.com/in", "absolute http(s) URL"],
    ["ftp://hooks.example.com/", "http or https, got ftp"],
    ["file:///etc/passwd", "http or https, got file"],
    ["javascript:alert(1)", "http or https"],
    ["https://user:pass@hooks.example.com/", "credentials"],
    ["https://user@hooks.example.com/", "credentials"],
    [`https://hooks.example.com/${"a".repeat(2030)}`, "at most 2048"],
  ])("refuses the malformed %j with SB_SUBSCRIPTION_INVALID", async (url, mention) => {
    for (const allowPrivate of [false, true]) {
      const err = await rejection(validateTargetUrl(url, { allowPrivate, lookup }));
      expect(err.code).toBe("SB_SUBSCRIPTION_INVALID");
      expect(err.details).toContain(mention);
    }
  });

  it("accepts a URL of exactly 2048 characters", async () => {
    const base = "https://hooks.example.com/";
    const url = base + "a".repeat(2048 - base.length);
    await expect(validateTargetUrl(url, { allowPrivate: false, lookup })).resolves.toBeInstanceOf(URL);
  });
});

describe("guardedLookup", () => {
  const table: Record<string, LookupAddress[]> = {
    "public.test": [
      { address: "93.184.216.34", family: 4 },
      { address: "2606:2800:220:1::1", family: 6 },
    ],
    "mixed.test": [
      { address: "93.184.216.34", family: 4 },
      { address: "127.0.0.1", family: 4 },
    ],
  };
  const seen: unknown[] = [];
  const base: CallbackLookupFn = (hostname, options, callback) => {
    seen.push(options);
    const addresses = table[hostname];
    setImmediate(() =>
      addresses ? callback(null, addresses) : callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []),
    );
  };

  function call(lookup: ReturnType<typeof guardedLookup>, hostname: string, options: { all?: boolean; family?: number }) {
    return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
      lookup(hostname, options, (err, address, family) => resolve({ err, address, family })),
    );
  }

  it("answers one address when all is false, every address when all is true", async () => {
    const lookup = guardedLookup(false, base);
    const one = await call(lookup, "public.test", { family: 0 });
    expect(one).toEqual({ err: null, address: "93.184.216.34", family: 4 });
    const all = await call(lookup, "public.test", { all: true });
    expect(all.err).toBeNull();
    expect(all.address).toEqual(table["public.test"]);
    // It always resolves every address, passing the caller's other options through.
    expect(seen.at(-2)).toEqual({ family: 0, all: true });
  });

  it.each([false, true])("fails with ESWITCHBOARD_PRIVATE_TARGET when any address is private (all: %s)", async (all) => {
    const { err } = await call(guardedLookup(false, base), "mixed.test", { all });
    expect(err).toBeInstanceOf(Error);
    expect(err!.code).toBe(PRIVATE_TARGET_ERROR_CODE);
    expect(err!.message).toBe("private address 127.0.0.1 refused (mixed.test)");
  });

  it("lets private addresses through when allowPrivate", async () => {
    const { err, address } = await call(guardedLookup(true, base), "mixed.test", {});
    expect(err).toBeNull();
    expect(address).toBe("93.184.216.34");
  });

  it("refuses a multicast address even when allowPrivate", async () => {
    const multicast: CallbackLookupFn = (_hostname, _options, callback) => setImmediate(() => callback(null, [{ address: "239.1.2.3", family: 4 }]));
    const { err } = await call(guardedLookup(true, multicast), "group.test", {});
    expect(err!.code).toBe(PRIVATE_TARGET_ERROR_CODE);
    expect(err!.message).toBe("private address 239.1.2.3 refused (group.test)");
  });

  it("passes resolver errors on", async () => {
    const { err } = await call(guardedLookup(false, base), "nowhere.test", {});
    expect(err!.code).toBe("ENOTFOUND");
  });

  it("refuses localhost with the real resolver", async () => {
    const { err } = await call(guardedLookup(false), "localhost", {});
    expect(err!.code).toBe(PRIVATE_TARGET_ERROR_CODE);
    expect(err!.message).toMatch(/^private address (127\.0\.0\.1|::1) refused \(localhost\)$/);
  });
});
