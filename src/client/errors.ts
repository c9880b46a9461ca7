import type { ErrorCode } from "../errors.js";

/** What the SDK itself can fail with, besides the hub's catalog codes (docs/sdk.md#errors). */
export type ClientErrorCode = "SB_CLIENT_NETWORK" | "SB_CLIENT_BAD_REPLY";

/**
 * An error reply from the hub (its `{error, details, code}` and the HTTP status), or a failure to reach it
 * (`SB_CLIENT_NETWORK`, status 0) or to read its reply (`SB_CLIENT_BAD_REPLY`).
 * @example
 * try { await sb.events.get(id) } catch (e) { if (e instanceof SwitchboardError && e.code === "SB_EVENT_NOT_FOUND") … }
 */
export class SwitchboardError extends Error {
  /** A catalog code (`SB_<AREA>_<WHAT>`, docs/errors.md) or one of the SDK's own. */
  readonly code: ErrorCode | ClientErrorCode;
  /** The HTTP status; 0 when no reply came. */
  readonly status: number;
  /** The hub's `details`: what was wrong with this request. */
  readonly details: string;
  /** The reply's `Retry-After`, in ms, when it had one. */
  readonly retryAfterMs: number | undefined;
  /** The hub's short text for the code (`error` of its body); for the SDK's own codes, a short text of the SDK's. */
  readonly title: string;

  constructor(code: ErrorCode | ClientErrorCode, status: number, details: string, options: { retryAfterMs?: number; cause?: unknown; title?: string } = {}) {
    super(`${code}${status ? ` (${status})` : ""}: ${details}`, { cause: options.cause });
    this.name = "SwitchboardError";
    this.code = code;
    this.status = status;
    this.details = details;
    this.retryAfterMs = options.retryAfterMs;
    this.title = options.title ?? (code === "SB_CLIENT_NETWORK" ? "hub unreachable" : "unexpected reply");
  }
}
