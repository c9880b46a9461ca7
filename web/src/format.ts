import type { Subscription } from "./api";

/** `2026-12-05T14:04:46.081Z` as `2026-12-05 14:04:46` (UTC), for tables and lines where the full time is too long. */
export function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/(\.\d+)?Z$/, "");
}

/** A subscription's health in a few words: healthy, failing since when, paused, or disabled and why. */
export function health(s: Subscription): string {
  if (!s.active) return s.disabled_reason ? `disabled: ${s.disabled_reason}` : "paused";
  return s.failing_since ? `failing since ${shortTime(s.failing_since)}` : "healthy";
}
