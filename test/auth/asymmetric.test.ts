import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, startTestHub, type TestHub } from "../helpers/hub.js";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

function sign(pair: KeyPair, alg: "RS256" | "ES256", scope: string, options: { kid?: string; iss?: string; aud?: string } = {}): Promise<string> {
  let jwt = new SignJWT({ scope })
    .setProtectedHeader({ alg, ...(options.kid ? { kid: options.kid } : {}) })
    .setSubject("svc")
    .setExpirationTime("5m");
  if (options.iss) jwt = jwt.setIssuer(options.iss);
  if (options.aud) jwt = jwt.setAudience(options.aud);
  return jwt.sign(pair.privateKey);
}

const publish = (hub: TestHub, topic: string, t: string) => postJson(`${hub.url}/api/events`, { topic, data: {} }, { authorization: `Bearer ${t}` });

let rsa: KeyPair;
let ec: KeyPair;
let otherRsa: KeyPair;
const hubs: TestHub[] = [];

beforeAll(async () => {
  [rsa, ec, otherRsa] = await Promise.all([
    generateKeyPair("RS256", { extractable: true }),
    generateKeyPair("ES256", { extractable: true }),
    generateKeyPair("RS256", { extractable: true }),
  ]);
});
afterAll(async () => {
  for (const h of hubs) await h.close();
});

describe("PEM public keys", () => {
  it("verifies RS256 tokens, checking iss and aud when configured", async () => {
    const hub = await startTestHub({ jwtPublicKey: await exportSPKI(rsa.publicKey), jwtIssuer: "https://idp.example", jwtAudience: "switchboard" });
    hubs.push(hub);
    const claims = { iss: "https://idp.example", aud: "switchboard" };
    expect((await publish(hub, "orders.created", await sign(rsa, "RS256", "publish:orders.*", claims))).status).toBe(201);
    const outside = await publish(hub, "stock.low", await sign(rsa, "RS256", "publish:orders.*", claims));
    expect(outside.status).toBe(403);
    expect(outside.body.details).toBe("requires publish:stock.low");
    expect((await publish(hub, "orders.created", await sign(otherRsa, "RS256", "admin", claims))).status).toBe(401);
    expect((await publish(hub, "orders.created", await sign(rsa, "RS256", "admin", { ...claims, iss: "https://evil.example" }))).status).toBe(401);
    expect((await publish(hub, "orders.created", await sign(rsa, "RS256", "admin", { ...claims, aud: "other" }))).status).toBe(401);
    expect((await publish(hub, "orders.created", await sign(rsa, "RS256", "admin"))).status).toBe(401);
    // Without exp: refused, as with a shared secret.
    const forever = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("svc")
      .setIssuer(claims.iss)
      .setAudience(claims.aud)
      .sign(rsa.privateKey);
    const noExp = await publish(hub, "orders.created", forever);
    expect(noExp.status).toBe(401);
    expect(noExp.body.details).toMatch(/no exp claim.*SWITCHBOARD_JWT_REQUIRE_EXP=false/);
    // An HS256 token (no secret configured) is refused, whatever it claims.
    const hs = await new SignJWT({ scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("x".repeat(32)));
    expect((await publish(hub, "orders.created", hs)).status).toBe(401);
  });

  it("verifies ES256 tokens, with the PEM given with \\n escapes as an environment variable would", async () => {
    const pem = (await exportSPKI(ec.publicKey)).trim().replace(/\n/g, "\\n");
    const hub = await startTestHub({ jwtPublicKey: pem });
    hubs.push(hub);
    expect((await publish(hub, "orders.created", await sign(ec, "ES256", "publish:**"))).status).toBe(201);
    expect((await publish(hub, "orders.created", await sign(rsa, "RS256", "publish:**"))).status).toBe(401);
  });
});

describe("JWKS", () => {
  let jwksServer: Server;
  let jwksUrl: string;

  beforeAll(async () => {
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ];
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  it("verifies RS256 and ES256 tokens against the keys the URL serves", async () => {
    const hub = await startTestHub({ jwksUrl });
    hubs.push(hub);
    expect((await publish(hub, "orders.created", await sign(rsa, "RS256", "publish:orders.*", { kid: "rsa-1" }))).status).toBe(201);
    expect((await publish(hub, "orders.created", await sign(ec, "ES256", "publish:orders.*", { kid: "ec-1" }))).status).toBe(201);
    const forbidden = await publish(hub, "stock.low", await sign(ec, "ES256", "publish:orders.*", { kid: "ec-1" }));
    expect(forbidden.status).toBe(403);
    const unknown = await publish(hub, "orders.created", await sign(otherRsa, "RS256", "admin", { kid: "rsa-1" }));
    expect(unknown.status).toBe(401);
  });
});
