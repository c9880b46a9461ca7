import { createHash, createPublicKey } from "node:crypto";
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { listSetting, type Config } from "../config.js";
import { HubError } from "../errors.js";
import type { Store } from "../store/store.js";
import { API_KEY_TOKEN_PREFIX, hashApiKeyToken } from "./api-keys.js";
import { parseScopes, type Scope } from "./scopes.js";

/** Who made a request, as a verified credential says. */
export interface Credential {
  /**
   * Stable id, which rate limits and stream quotas count by: the API key id (`key_…`), `jwt:<sub>`, or for a JWT
   * without `sub`, `jwt#` and the first 32 hex digits of the token's SHA-256 (so each such token counts apart).
   */
  id: string;
  scopes: Scope[];
}

/** The configuration keys authentication reads. */
export type AuthConfig = Pick<Config, "auth" | "jwtSecret" | "jwtPublicKey" | "jwksUrl" | "jwtIssuer" | "jwtAudience" | "jwtRequireExp" | "jwtDefaultScopes">;

/** Options of {@link Authenticator}. */
export interface AuthenticatorOptions {
  config: AuthConfig;
  store: Store;
  /**
   * How long the answer to "does any API key exist?" is kept. Keys created or revoked through this process
   * call {@link Authenticator.invalidate}; the expiry picks up keys made by `switchboard keys` in another process.
   */
  enabledCacheMs?: number;
  /** The clock of that cache; default `Date.now`. */
  now?: () => number;
}

type PublicKey = Awaited<ReturnType<typeof importSPKI>>;

const ASYMMETRIC_ALGS = ["RS256", "ES256"] as const;

/** API keys kept verified at most; the cache starts over when full. */
const MAX_CACHED_KEYS = 10_000;

/**
 * Decides whether auth is on and verifies bearer credentials: API keys (`sbk_…`, looked up by hash) and JWTs
 * (HS256 with a shared secret; RS256/ES256 with a PEM public key or a JWKS URL).
 */
export class Authenticator {
  /** True when a JWT key (secret, PEM or JWKS) is configured. */
  readonly jwtConfigured: boolean;
  private readonly config: AuthConfig;
  private readonly store: Store;
  private readonly enabledCacheMs: number;
  private readonly now: () => number;
  private enabledCache: { value: boolean; until: number } | undefined;
  private publicKey: Promise<{ alg: string; key: PublicKey }> | undefined;
  private jwks: JWTVerifyGetKey | undefined;
  /**
   * API keys verified while the store's `keys.changeStamp()` has stayed {@link keysStamp}, by token hash (not
   * the token). Looking a key up cost about a quarter of an authenticated publish; a key revoked anywhere moves the
   * stamp, so it is refused from the next request, as without the cache.
   */
  private readonly verifiedKeys = new Map<string, Credential>();
  private keysStamp: number | undefined;

  constructor({ config, store, enabledCacheMs = 1000, now = Date.now }: AuthenticatorOptions) {
    this.config = config;
    this.now = now;
    this.store = store;
    this.enabledCacheMs = enabledCacheMs;
    this.jwtConfigured = config.jwtSecret !== "" || config.jwtPublicKey !== "" || config.jwksUrl !== "";
  }

  /** Whether requests need a credential: a credential is configured (a JWT key, or any API key ever created) and auth is not `none`. */
  async enabled(): Promise<boolean> {
    if (this.config.auth === "none") return false;
    if (this.jwtConfigured) return true;
    const now = this.now();
    if (this.enabledCache && now < this.enabledCache.until) return this.enabledCache.value;
    // Any key ever created, revoked ones included: revoking the last key must lock the hub, never open it.
    const value = (await this.store.keys.list()).length > 0;
    this.enabledCache = { value, until: now + this.enabledCacheMs };
    return value;
  }

  /** The answer of {@link enabled} when it is known without asking the store (configuration or a fresh cache). */
  enabledNow(): boolean | undefined {
    if (this.config.auth === "none") return false;
    if (this.jwtConfigured) return true;
    return this.enabledCache && this.now() < this.enabledCache.until ? this.enabledCache.value : undefined;
  }

  /** Forgets the cached answer of {@link enabled} and the verified keys; call after creating or revoking a key. */
  invalidate(): void {
    this.enabledCache = undefined;
    this.verifiedKeys.clear();
  }

  /**
   * The credential of an API key token verified before, when the store says no key has changed since; else
   * undefined (then {@link authenticate} decides). Synchronous, for the lean publish path.
   */
  knownCredential(token: string): Credential | undefined {
    // A store with no change stamp keeps nothing: no hash here, which authenticate would compute again.
    if (!token.startsWith(API_KEY_TOKEN_PREFIX) || this.store.keys.changeStamp === undefined) return undefined;
    return this.verifiedKey(hashApiKeyToken(token));
  }

  /**
   * Verifies a bearer token.
   * @throws HubError SB_AUTH_INVALID saying what is wrong, never echoing the token.
   */
  async authenticate(token: string): Promise<Credential> {
    if (token.startsWith(API_KEY_TOKEN_PREFIX)) {
      const hash = hashApiKeyToken(token);
      const known = this.verifiedKey(hash);
      if (known !== undefined) return known;
      const stamp = this.keysStamp;
      const key = await this.store.keys.findByHash(hash);
      if (!key || key.revokedAt !== null) throw new HubError("SB_AUTH_INVALID", "unknown or revoked API key");
      const credential: Credential = { id: key.id, scopes: parseScopes(key.scopes) };
      // Kept only if nothing moved the stamp while the store answered (verifiedKey cleared the map then).
      if (stamp !== undefined && stamp === this.keysStamp) {
        if (this.verifiedKeys.size >= MAX_CACHED_KEYS) this.verifiedKeys.clear();
        this.verifiedKeys.set(hash, credential);
      }
      return credential;
    }
    if (!this.jwtConfigured) throw new HubError("SB_AUTH_INVALID", "the bearer token is not a known API key");
    const payload = await this.verifyJwt(token);
    // `scp` is the claim some issuers (Azure AD, Okta) use instead; a token with neither (switch mints such tokens)
    // gets jwtDefaultScopes, none by default.
    const claim = payload.scope ?? payload.scp;
    const scopes =
      typeof claim === "string"
        ? claim.split(" ").filter((s) => s !== "")
        : Array.isArray(claim)
          ? claim.filter((s): s is string => typeof s === "string")
          : claim === undefined
            ? listSetting(this.config.jwtDefaultScopes)
            : [];
    return { id: jwtCredentialId(token, payload), scopes: parseScopes(scopes) };
  }

  /** The credential verified for a token hash, after dropping every one if the store's keys may have changed. */
  private verifiedKey(hash: string): Credential | undefined {
    const stamp = this.store.keys.changeStamp?.();
    if (stamp !== this.keysStamp) {
      this.verifiedKeys.clear();
      this.keysStamp = stamp;
    }
    return stamp === undefined ? undefined : this.verifiedKeys.get(hash);
  }

  private async verifyJwt(token: string): Promise<JWTPayload> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new HubError("SB_AUTH_INVALID", "the bearer token is neither an API key nor a JWT");
    }
    const options = {
      issuer: this.config.jwtIssuer || undefined,
      audience: this.config.jwtAudience || undefined,
      requiredClaims: this.config.jwtRequireExp ? ["exp"] : [],
    };
    try {
      if (alg === "HS256" && this.config.jwtSecret !== "") {
        return (await jwtVerify(token, new TextEncoder().encode(this.config.jwtSecret), { ...options, algorithms: ["HS256"] })).payload;
      }
      if (alg !== undefined && (ASYMMETRIC_ALGS as readonly string[]).includes(alg)) {
        if (this.config.jwtPublicKey !== "") {
          const pem = await this.loadPublicKey();
          if (pem.alg === alg) return (await jwtVerify(token, pem.key, { ...options, algorithms: [alg] })).payload;
        }
        if (this.config.jwksUrl !== "") {
          this.jwks ??= createRemoteJWKSet(new URL(this.config.jwksUrl));
          return (await jwtVerify(token, this.jwks, { ...options, algorithms: [...ASYMMETRIC_ALGS] })).payload;
        }
      }
    } catch (error) {
      throw jwtError(error);
    }
    throw new HubError("SB_AUTH_INVALID", `JWTs signed with ${JSON.stringify(String(alg).slice(0, 20))} are not accepted here`);
  }

  /** The configured PEM (SPKI, PKCS#1 or a certificate; `\n` escapes allowed) as a key, with the algorithm its type implies. */
  private loadPublicKey(): Promise<{ alg: string; key: PublicKey }> {
    this.publicKey ??= (async () => {
      const text = this.config.jwtPublicKey.includes("\n") ? this.config.jwtPublicKey : this.config.jwtPublicKey.replace(/\\n/g, "\n");
      const keyObject = createPublicKey(text);
      const alg = keyObject.asymmetricKeyType === "ec" ? "ES256" : "RS256";
      const spki = keyObject.export({ type: "spki", format: "pem" }).toString();
      return { alg, key: await importSPKI(spki, alg) };
    })();
    return this.publicKey;
  }
}

/**
 * The credential id of a verified JWT: `jwt:<sub>`, or without a `sub`, one of the token's own. Tokens without a
 * subject once all shared `jwt:`, and with it one rate-limit bucket and one stream quota.
 */
function jwtCredentialId(token: string, payload: JWTPayload): string {
  if (typeof payload.sub === "string" && payload.sub !== "") return `jwt:${payload.sub}`;
  return `jwt#${createHash("sha256").update(token).digest("hex").slice(0, 32)}`;
}

function jwtError(error: unknown): HubError {
  if (error instanceof joseErrors.JWTExpired) return new HubError("SB_AUTH_INVALID", "the token has expired");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "exp" && error.reason === "missing") {
      return new HubError("SB_AUTH_INVALID", "the token has no exp claim; tokens must expire unless SWITCHBOARD_JWT_REQUIRE_EXP=false (jwtRequireExp)");
    }
    if (error.claim === "nbf") return new HubError("SB_AUTH_INVALID", "the token is not valid yet (nbf)");
    return new HubError("SB_AUTH_INVALID", `the token's ${error.claim} claim is not accepted`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new HubError("SB_AUTH_INVALID", "the token's signature does not verify");
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new HubError("SB_AUTH_INVALID", "no key of the JWKS verifies the token");
  if (error instanceof joseErrors.JOSEError) return new HubError("SB_AUTH_INVALID", "the token could not be verified");
  return new HubError("SB_AUTH_INVALID", "the token could not be verified", { cause: error });
}
