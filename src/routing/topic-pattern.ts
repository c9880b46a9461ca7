/**
 * Topic names and patterns. A name is 1–200 characters of letters, digits and `. _ - :`, starting with a letter
 * or digit; dots separate segments. A pattern may use `*` for exactly one segment and, as its last segment, `**`
 * for one or more segments: `orders.*` matches `orders.created`, `orders.**` also matches `orders.eu.created`.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const SEGMENT = /^[A-Za-z0-9_:-]+$/;

/** Why a topic name is invalid, or undefined when it is valid. */
export function topicNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "a topic name must be a string";
  if (!NAME.test(name)) {
    return `topic name ${JSON.stringify(name.slice(0, 210))} must be 1-200 characters of letters, digits, '.', '_', '-' or ':', starting with a letter or digit`;
  }
  if (name.includes("..") || name.endsWith(".")) return `topic name ${JSON.stringify(name)} has an empty segment`;
  return undefined;
}

/** A compiled topic pattern. */
export interface TopicMatcher {
  readonly pattern: string;
  /** True when the pattern has no wildcard. */
  readonly exact: boolean;
  /** The literal part before the first wildcard (the whole name when exact). */
  readonly prefix: string;
  matches(topic: string): boolean;
}

/** Why a pattern is invalid, or undefined. */
export function topicPatternProblem(pattern: string): string | undefined {
  if (!pattern.includes("*")) return topicNameProblem(pattern);
  if (pattern.length > 200) return "a topic pattern is at most 200 characters";
  const segments = pattern.split(".");
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === "*") continue;
    if (s === "**") {
      if (i !== segments.length - 1) return `in ${JSON.stringify(pattern)}, '**' may only be the last segment`;
      continue;
    }
    if (!SEGMENT.test(s)) {
      return `topic pattern ${JSON.stringify(pattern)} has an invalid segment ${JSON.stringify(s)}; use names, '*' or a final '**'`;
    }
  }
  return undefined;
}

/** Compiles a pattern (validate first with {@link topicPatternProblem}). */
export function compileTopicPattern(pattern: string): TopicMatcher {
  if (!pattern.includes("*")) {
    return { pattern, exact: true, prefix: pattern, matches: (t) => t === pattern };
  }
  const segments = pattern.split(".");
  const firstWild = segments.findIndex((s) => s === "*" || s === "**");
  const prefix = firstWild === 0 ? "" : segments.slice(0, firstWild).join(".") + ".";
  const source = segments.map((s) => (s === "*" ? "[^.]+" : s === "**" ? "[^.]+(?:\\.[^.]+)*" : s.replace(/[-:]/g, "\\$&"))).join("\\.");
  const regex = new RegExp(`^${source}$`);
  return { pattern, exact: false, prefix, matches: (t) => regex.test(t) };
}

/**
 * Whether a grant pattern covers a requested pattern: every topic `requested` matches, `grant` matches too.
 * Both must be valid patterns (see {@link topicPatternProblem}); a name is a pattern without wildcards.
 * @example patternCovers("orders.**", "orders.*") // true
 * @example patternCovers("orders.*", "orders.**") // false: orders.eu.created is not one segment deep
 */
export function patternCovers(grant: string, requested: string): boolean {
  const g = grant.split(".");
  const r = requested.split(".");
  for (let i = 0; i < g.length; i++) {
    const gs = g[i]!;
    // A final `**` takes one or more segments of anything: what is left of `requested` must be at least one segment.
    if (gs === "**") return i < r.length;
    if (i >= r.length) return false;
    const rs = r[i]!;
    // `**` in `requested` reaches arbitrary depth; only a grant's `**` (handled above) covers that.
    if (rs === "**") return false;
    if (gs === "*") continue;
    if (rs !== gs) return false; // a literal grant segment covers only the same literal, not `*`
  }
  return g.length === r.length;
}
