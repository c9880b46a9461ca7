import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { isPrivateAddress, refusedRange, SPECIAL_PURPOSE_RANGES, specialPurposeRange } from "./target-guard.js";

/**
 * Every special-purpose range that is not globally reachable (IANA IPv4 and IPv6 Special-Purpose Address
 * Registries, plus multicast, reserved and the IPv6 space outside 2000::/3): its first and last address and the
 * public neighbours just outside it. `null` means globally reachable.
 */
const SPECIAL_PURPOSE_ROWS: Array<[string, string | null]> = [
  ["0.0.0.0", "0.0.0.0/8"],
  ["0.255.255.255", "0.0.0.0/8"],
  ["1.0.0.0", null],
  ["10.0.0.0", "10.0.0.0/8"],
  ["10.255.255.255", "10.0.0.0/8"],
  ["100.64.0.0", "100.64.0.0/10"],
  ["100.127.255.255", "100.64.0.0/10"],
  ["100.63.255.255", null],
  ["100.128.0.0", null],
  ["127.0.0.0", "127.0.0.0/8"],
  ["127.255.255.255", "127.0.0.0/8"],
  ["169.254.0.0", "169.254.0.0/16"],
  ["169.254.255.255", "169.254.0.0/16"],
  ["172.16.0.0", "172.16.0.0/12"],
  ["172.31.255.255", "172.16.0.0/12"],
  ["192.0.0.0", "192.0.0.0/24"],
  ["192.0.0.255", "192.0.0.0/24"],
  ["191.255.255.255", null],
  ["192.0.1.0", null],
  ["192.0.1.255", null],
  ["192.0.2.0", "192.0.2.0/24"],
  ["192.0.2.1", "192.0.2.0/24"],
  ["192.0.2.255", "192.0.2.0/24"],
  ["192.0.3.0", null],
  ["192.88.98.255", null],
  ["192.88.99.0", "192.88.99.0/24"],
  ["192.88.99.255", "192.88.99.0/24"],
  ["192.88.100.0", null],
  ["192.168.0.0", "192.168.0.0/16"],
  ["192.168.255.255", "192.168.0.0/16"],
  ["198.18.0.0", "198.18.0.0/15"],
  ["198.19.255.255", "198.18.0.0/15"],
  ["198.51.99.255", null],
  ["198.51.100.0", "198.51.100.0/24"],
  ["198.51.100.255", "198.51.100.0/24"],
  ["198.51.101.0", null],
  ["203.0.112.255", null],
  ["203.0.113.0", "203.0.113.0/24"],
  ["203.0.113.255", "203.0.113.0/24"],
  ["203.0.114.0", null],
  ["223.255.255.255", null],
  ["224.0.0.0", "224.0.0.0/4"],
  ["239.255.255.255", "224.0.0.0/4"],
  ["240.0.0.0", "240.0.0.0/4"],
  ["255.255.255.254", "240.0.0.0/4"],
  ["255.255.255.255", "255.255.255.255/32"],
  ["::", "::/128"],
  ["::1", "::1/128"],
  ["::2", "::/3"],
  ["::ffff:0.0.0.0", "0.0.0.0/8"],
  ["::ffff:127.0.0.1", "127.0.0.0/8"],
  ["::ffff:192.0.2.1", "192.0.2.0/24"],
  ["::ffff:224.0.0.1", "224.0.0.0/4"],
  ["::ffff:8.8.8.8", null],
  ["64:ff9b::10.0.0.1", "10.0.0.0/8"],
  ["64:ff9b::198.51.100.7", "198.51.100.0/24"],
  ["64:ff9b::8.8.8.8", null],
  ["64:ff9b:1::", "64:ff9b:1::/48"],
  ["64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48"],
  ["100::", "100::/64"],
  ["100::1", "100::/64"],
  ["100::ffff:ffff:ffff:ffff", "100::/64"],
  ["1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3"],
  ["2000::1", null],
  ["2001::", "2001::/23"],
  ["2001::1", "2001::/23"],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/23"], // Teredo
  ["2001:1::1", "2001::/23"],
  ["2001:2::1", "2001::/23"], // benchmarking
  ["2001:3::1", "2001::/23"],
  ["2001:10::1", "2001::/23"], // ORCHID
  ["2001:20::1", "2001::/23"], // ORCHIDv2
  ["2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23"],
  ["2001:200::1", null],
  ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", null],
  ["2001:db8::", "2001:db8::/32"],
  ["2001:db8::1", "2001:db8::/32"],
  ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"],
  ["2001:db9::", null],
  ["2002:7f00:1::1", "127.0.0.0/8"],
  ["2002:c000:201::", "192.0.2.0/24"],
  ["2002:808:808::1", null],
  ["3ffe:ffff::1", null],
  ["3fff::", "3fff::/20"],
  ["3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20"],
  ["3fff:1000::", null],
  ["4000::1", "4000::/2"],
  ["8000::1", "8000::/1"],
  ["5f00::", "5f00::/16"],
  ["5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f00::/16"],
  ["fc00::", "fc00::/7"],
  ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7"],
  ["fe80::", "fe80::/10"],
  ["febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10"],
  ["fec0::1", "fec0::/10"],
  ["ff00::", "ff00::/8"],
  ["ff02::1", "ff00::/8"],
  ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8"],
  ["2001:4860:4860::8888", null],
  ["2606:4700:4700::1111", null],
  ["2a00:1450:4001::1", null],
];

describe("special-purpose ranges", () => {
  it.each(SPECIAL_PURPOSE_ROWS)("%s is in %s", (ip, range) => {
    expect(isPrivateAddress(ip)).toBe(range !== null);
    expect(specialPurposeRange(ip)?.cidr ?? null).toBe(range);
    if (isIP(ip) === 6) expect(specialPurposeRange(`[${ip}]`)?.cidr ?? null).toBe(range);
  });

  it("gives every range an RFC, and finds it (or a narrower one inside it) from its first address", () => {
    const bits = (cidr: string) => Number(cidr.split("/")[1]);
    for (const r of SPECIAL_PURPOSE_RANGES) {
      expect(r.rfc).toMatch(/^RFC \d+$/);
      const found = specialPurposeRange(r.cidr.split("/")[0]!)!;
      expect(found === r || bits(found.cidr) > bits(r.cidr), r.cidr).toBe(true);
    }
  });

  it.each<[string, boolean]>([
    ["127.0.0.1", false],
    ["10.1.2.3", false],
    ["169.254.169.254", false],
    ["0.0.0.0", false],
    ["192.0.2.1", false],
    ["::1", false],
    ["fd00::1", false],
    ["::ffff:127.0.0.1", false],
    ["2001:db8::1", false],
    ["224.0.0.1", true],
    ["239.255.255.250", true],
    ["240.0.0.1", true],
    ["255.255.255.255", true],
    ["ff02::1", true],
    ["::ffff:224.0.0.1", true],
    ["2002:e000:1::", true],
    ["localhost", true],
    ["8.8.8.8", false],
  ])("with allowPrivate, %s is refused: %s", (ip, refused) => {
    expect(refusedRange(ip, true) !== undefined).toBe(refused);
    expect(refusedRange(ip, false) !== undefined).toBe(ip !== "8.8.8.8");
  });
});
