import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Authenticator, Credential } from "../../auth/authenticator.js";
import { HubError } from "../../errors.js";
import { credentialToken, TOKEN_COOKIE } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { SessionOut } from "../schemas/responses.js";
import { LoginBody } from "../schemas/session.js";

/** What {@link registerSessionRoutes} uses. */
export interface SessionRoutesOptions {
  auth: Pick<Authenticator, "enabled" | "authenticate">;
  basePath: string;
}

/** How long the console's cookie lives (the credential itself may expire sooner). */
const COOKIE_MAX_AGE_S = 7 * 24 * 3600;

/**
 * The console's sign-in: `POST BASE_PATH/auth/login {token}` checks the token and keeps it in the `switchboard_token`
 * cookie (HttpOnly, SameSite=Strict, Secure behind TLS); `POST BASE_PATH/auth/logout` clears it;
 * `GET BASE_PATH/auth/session` says whether auth is on and, if the request carries a credential, its scopes. All
 * three are open: they are how a browser gets a credential.
 */
export function registerSessionRoutes(instance: FastifyInstance, { auth, basePath }: SessionRoutesOptions): void {
  const fastify = instance.withTypeProvider<TypeBoxTypeProvider>();
  const loginDoc = documented({
    summary: "Console sign-in: keep a token in the switchboard_token cookie",
    replies: [
      {
        status: 200,
        description: "Signed in (the cookie is set); with auth off nothing is needed.",
        schema: SessionOut,
        headers: { "set-cookie": "switchboard_token, HttpOnly, SameSite=Strict." },
      },
    ],
    errors: ["SB_AUTH_INVALID"],
  });
  fastify.post(`${basePath}/auth/login`, { schema: { body: LoginBody }, ...loginDoc }, async (request, reply) => {
    if (!(await auth.enabled())) return { auth: false, scopes: ["admin"] };
    const credential = await auth.authenticate(request.body.token);
    setCookie(reply, request, request.body.token, COOKIE_MAX_AGE_S);
    return { auth: true, scopes: scopeStrings(credential) };
  });
  const logoutDoc = documented({ summary: "Console sign-out: clear the cookie", replies: [{ status: 204, description: "Signed out." }] });
  fastify.post(`${basePath}/auth/logout`, logoutDoc, async (request, reply) => {
    setCookie(reply, request, "", 0);
    return reply.status(204).send();
  });
  const sessionDoc = documented({
    summary: "Whether auth is on, and the scopes of the request's credential",
    replies: [{ status: 200, description: "The session.", schema: SessionOut }],
  });
  fastify.get(`${basePath}/auth/session`, sessionDoc, async (request) => {
    if (!(await auth.enabled())) return { auth: false, signed_in: true, scopes: ["admin"] };
    const token = credentialToken(request);
    if (token === undefined) return { auth: true, signed_in: false, scopes: [] };
    try {
      return { auth: true, signed_in: true, scopes: scopeStrings(await auth.authenticate(token)) };
    } catch (error) {
      if (error instanceof HubError && error.code === "SB_AUTH_INVALID") return { auth: true, signed_in: false, scopes: [] };
      throw error;
    }
  });
}

function scopeStrings(credential: Credential): string[] {
  return credential.scopes.map((s) => (s.kind === "admin" ? "admin" : `${s.kind}:${s.pattern}`));
}

/** Secure when the request came over TLS, here or (as a proxy says) in front of the hub. */
function setCookie(reply: FastifyReply, request: FastifyRequest, value: string, maxAgeS: number): void {
  const tls =
    request.protocol === "https" ||
    String(request.headers["x-forwarded-proto"] ?? "")
      .split(",")[0]!
      .trim() === "https";
  const attributes = ["Path=/", "HttpOnly", "SameSite=Strict", `Max-Age=${maxAgeS}`, ...(tls ? ["Secure"] : [])];
  void reply.header("set-cookie", `${TOKEN_COOKIE}=${encodeURIComponent(value)}; ${attributes.join("; ")}`);
}
