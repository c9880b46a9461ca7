import { patternCovers, topicPatternProblem } from "../routing/topic-pattern.js";

/**
 * Scopes a credential carries: `publish:<topic pattern>`, `subscribe:<topic pattern>` (live streams and reading
 * stored events), and `admin` (topics, subscriptions, deliveries, keys), which implies every other scope.
 */
export type Scope = { kind: "admin" } | { kind: "publish" | "subscribe"; pattern: string };

/** Why a scope string is invalid, or undefined when it is valid. */
export function scopeProblem(scope: unknown): string | undefined {
  if (typeof scope !== "string") return "a scope must be a string";
  if (scope === "admin") return undefined;
  const colon = scope.indexOf(":");
  const kind = colon === -1 ? scope : scope.slice(0, colon);
  if (kind !== "publish" && kind !== "subscribe") {
    return `scope ${JSON.stringify(scope.slice(0, 210))} must be admin, publish:<topic pattern> or subscribe:<topic pattern>`;
  }
  if (colon === -1 || colon === scope.length - 1) return `scope ${JSON.stringify(scope)} needs a topic pattern, such as ${kind}:orders.* or ${kind}:**`;
  const problem = topicPatternProblem(scope.slice(colon + 1));
  return problem === undefined ? undefined : `scope ${JSON.stringify(scope.slice(0, 210))}: ${problem}`;
}

/** Parses scope strings, skipping invalid ones (a token may carry scopes of other services). */
export function parseScopes(scopes: readonly string[]): Scope[] {
  const out: Scope[] = [];
  for (const s of scopes) {
    if (scopeProblem(s) !== undefined) continue;
    if (s === "admin") out.push({ kind: "admin" });
    else {
      const colon = s.indexOf(":");
      out.push({ kind: s.slice(0, colon) as "publish" | "subscribe", pattern: s.slice(colon + 1) });
    }
  }
  return out;
}

/**
 * Whether `granted` covers the scope string `required` (`admin`, `publish:<pattern>` or `subscribe:<pattern>`).
 * @example grantsScope(parseScopes(["publish:orders.**"]), "publish:orders.eu.created") // true
 */
export function grantsScope(granted: readonly Scope[], required: string): boolean {
  const colon = required.indexOf(":");
  const kind = colon === -1 ? required : required.slice(0, colon);
  const pattern = required.slice(colon + 1);
  for (const g of granted) {
    if (g.kind === "admin") return true;
    if (kind !== "admin" && g.kind === kind && patternCovers(g.pattern, pattern)) return true;
  }
  return false;
}
