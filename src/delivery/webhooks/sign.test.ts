import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateSecret, isValidSecret, signatureFor, verifySignature } from "./sign.js";

// The example of the Standard Webhooks specification.
const SPEC = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  msgId: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("signatureFor", () => {
  it("reproduces the Standard Webhooks example", () => {
    expect(signatureFor(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it("matches an HMAC computed independently with node:crypto", () => {
    const key = Buffer.from("0123456789abcdef0123456789abcdef", "utf8");
    const secret = `whsec_${key.toString("base64")}`;
    const body = '{"hello":"wörld","n":[1,2,3]}';
    const expected = createHmac("sha256", key).update(`dlv_01J0000000000000000000000.1700000000.${body}`).digest("base64");
    expect(signatureFor(secret, "dlv_01J0000000000000000000000", 1700000000, body)).toBe(`v1,${expected}`);
  });

  it("accepts a secret without the whsec_ prefix as the same base64 key", () => {
    const bare = SPEC.secret.slice("whsec_".length);
    expect(signatureFor(bare, SPEC.msgId, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it("changes with every signed part", () => {
    const base = signatureFor(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body);
    expect(signatureFor(SPEC.secret, `${SPEC.msgId}x`, SPEC.timestamp, SPEC.body)).not.toBe(base);
    expect(signatureFor(SPEC.secret, SPEC.msgId, SPEC.timestamp + 1, SPEC.body)).not.toBe(base);
    expect(signatureFor(SPEC.secret, SPEC.msgId, SPEC.timestamp, `${SPEC.body} `)).not.toBe(base);
    expect(signatureFor(generateSecret(), SPEC.msgId, SPEC.timestamp, SPEC.body)).not.toBe(base);
  });

  it("refuses a secret that is not base64", () => {
    expect(() => signatureFor("whsec_not base64!", "m", 1, "")).toThrow(TypeError);
    expect(() => signatureFor("whsec_", "m", 1, "")).toThrow(TypeError);
  });
});

describe("verifySignature", () => {
  const now = SPEC.timestamp + 10;

  it("accepts the spec example within the tolerance", () => {
    expect(verifySignature(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body, SPEC.signature, 300, now)).toBe(true);
  });

  it("finds the valid entry among several and ignores other versions", () => {
    const header = `v1a,${"A".repeat(88)} v1,${Buffer.alloc(32).toString("base64")} ${SPEC.signature}`;
    expect(verifySignature(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body, header, 300, now)).toBe(true);
  });

  it("rejects a signature under another version tag", () => {
    const header = SPEC.signature.replace(/^v1,/, "v2,");
    expect(verifySignature(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body, header, 300, now)).toBe(false);
  });

  it.each([
    ["a changed body", SPEC.secret, SPEC.msgId, SPEC.body.replace("2432232314", "2432232315")],
    ["a changed id", SPEC.secret, "msg_other", SPEC.body],
    ["another secret", "whsec_" + Buffer.alloc(24, 1).toString("base64"), SPEC.msgId, SPEC.body],
  ])("rejects %s", (_name, secret, msgId, body) => {
    expect(verifySignature(secret, msgId, SPEC.timestamp, body, SPEC.signature, 300, now)).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["no comma", "v1"],
    ["not base64", "v1,!!!!"],
    ["truncated", SPEC.signature.slice(0, -4)],
  ])("rejects a malformed header (%s)", (_name, header) => {
    expect(verifySignature(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body, header, 300, now)).toBe(false);
  });

  it("rejects timestamps outside the tolerance in either direction, accepts the edges", () => {
    const check = (nowSeconds: number) => verifySignature(SPEC.secret, SPEC.msgId, SPEC.timestamp, SPEC.body, SPEC.signature, 300, nowSeconds);
    expect(check(SPEC.timestamp + 300)).toBe(true);
    expect(check(SPEC.timestamp - 300)).toBe(true);
    expect(check(SPEC.timestamp + 301)).toBe(false);
    expect(check(SPEC.timestamp - 301)).toBe(false);
  });

  it("uses the current time when none is given", () => {
    const secret = generateSecret();
    const ts = Math.floor(Date.now() / 1000);
    const sig = signatureFor(secret, "m", ts, "{}");
    expect(verifySignature(secret, "m", ts, "{}", sig)).toBe(true);
    expect(verifySignature(secret, "m", ts - 3600, "{}", signatureFor(secret, "m", ts - 3600, "{}"))).toBe(false);
  });
});

describe("generateSecret / isValidSecret", () => {
  it("makes whsec_ and 24 random bytes, different each time", () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(a.slice(6), "base64")).toHaveLength(24);
    expect(a).not.toBe(b);
    expect(isValidSecret(a)).toBe(true);
  });

  it.each([
    [SPEC.secret, true],
    [`whsec_${Buffer.alloc(64, 7).toString("base64")}`, true],
    [`whsec_${Buffer.alloc(23, 7).toString("base64")}`, false],
    [`whsec_${Buffer.alloc(65, 7).toString("base64")}`, false],
    [SPEC.secret.slice(6), false],
    ["whsec_", false],
    ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", false],
    ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", false],
    ["WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false],
  ])("isValidSecret(%j) is %s", (secret, valid) => {
    expect(isValidSecret(secret)).toBe(valid);
  });
});
