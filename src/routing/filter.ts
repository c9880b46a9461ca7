import { Environment } from "@marcbachmann/cel-js";
import { HubError } from "../errors.js";
import type { CelNode } from "./cel-ast.js";
import { estimateFilterCost, SMALLEST_EVENT, type EstimateOptions } from "./estimate-filter-cost.js";
import { EVENT_BOUNDS, FILTER_COST } from "./filter-cost.js";
import { budgetExceeded, startBudget } from "./evaluation-budget.js";
import { guardAst } from "./filter-guard.js";
import { regexInstructions } from "./filter-regex.js";
import { protectEvaluator } from "./json-object-keys.js";

/**
 * CEL filters over an event. Variables: `data` (the event's data), `attributes` and `headers` (string maps), `topic`, `type`,
 * `key`, `source`, `subject`, `id` and `time` (a timestamp). A filter that fails on an event (a missing field, a
 * wrong type) means "no match" for that event; it never throws out of {@link EventFilter.matches}.
 *
 * Cost: the source length and the AST size and depth are capped; a static estimate refuses filters too costly
 * (`filter-cost.ts`), and each evaluation runs on a budget with capped string and list growth and RE2 `matches`
 * (`filter-guard.ts`). docs/filters.md has the model and the measured worst case.
 */

/** The most characters a filter may have. */
export const MAX_FILTER_LENGTH = 2048;

// `type` is a CEL built-in (the type of types), so a bare `type` identifier is renamed to this variable of the
// same length before parsing: error carets keep their columns, and messages are mapped back.
const TYPE_VAR = "_typ";

const env = new Environment({
  unlistedVariablesAreDyn: false,
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 400, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 8 },
})
  .registerVariable("data", "dyn")
  .registerVariable("attributes", "map")
  .registerVariable("headers", "map")
  .registerVariable("topic", "string")
  .registerVariable(TYPE_VAR, "dyn")
  .registerVariable("key", "dyn")
  .registerVariable("source", "dyn")
  .registerVariable("subject", "dyn")
  .registerVariable("id", "string")
  .registerVariable("time", "google.protobuf.Timestamp");

// cel-js keeps one evaluator per environment: reach it through a probe program, to protect it (see protectEvaluator).
{
  const probe = env.parse("true") as unknown as Program;
  probe.check();
  const inner = probe.ast.meta.evaluate!;
  let evaluator: unknown;
  probe.ast.evaluate = (ev, ast, ctx) => ((evaluator = ev), inner(ev, ast, ctx));
  probe({});
  protectEvaluator(evaluator);
}

const ESTIMATE_OPTIONS: EstimateOptions = {
  variables: {
    data: "data",
    attributes: "attributes",
    // Captured request headers: at most 32 names and 8 KiB, within the bounds counted for attributes.
    headers: "attributes",
    topic: "topic",
    [TYPE_VAR]: "type",
    key: "key",
    source: "source",
    subject: "subject",
    id: "id",
    time: "time",
  },
  regexInstructions,
};

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The event fields a filter sees. */
export interface FilterInput {
  id: string;
  topic: string;
  type: string | null;
  source: string | null;
  subject: string | null;
  key: string | null;
  /** Event time, epoch ms. */
  time: number;
  data: unknown;
  attributes: Record<string, string>;
  /** The captured publish request headers, lower-case names (`SWITCHBOARD_CAPTURE_HEADERS`); none when absent. */
  headers?: Record<string, string> | null;
}

/** A compiled filter. */
export interface EventFilter {
  readonly source: string;
  /** True when the event matches; false when it does not or when evaluation fails on it. */
  matches(event: FilterInput): boolean;
}

/** Options of {@link compileFilter}. */
export interface CompileFilterOptions {
  /**
   * Called each time the filter fails on an event. Per filter, not per module: each hub counts its own failures
   * (`switchboard_filter_errors_total`), however many hubs share the process.
   */
  onError?: () => void;
}

interface Program {
  (ctx: Record<string, unknown>): unknown;
  ast: CelNode;
  check(): { valid?: boolean; error?: Error; type?: string };
}

/**
 * Compiles a CEL filter.
 * @throws HubError `SB_FILTER_INVALID` with the parser's message and position (or RE2's, for a `matches` pattern);
 *   `SB_FILTER_TOO_COSTLY` when its estimated cost is over the limit, naming both.
 * @example compileFilter('data.amount > 100 && attributes.region == "eu"')
 */
export function compileFilter(source: string, options: CompileFilterOptions = {}): EventFilter {
  const { onError } = options;
  if (typeof source !== "string" || source.trim() === "") throw new HubError("SB_FILTER_INVALID", "the filter is empty");
  if (source.length > MAX_FILTER_LENGTH) {
    throw new HubError("SB_FILTER_INVALID", `the filter has ${source.length} characters; at most ${MAX_FILTER_LENGTH} are allowed`);
  }
  const rewritten = renameTypeIdentifier(source);
  let program: Program;
  let largest: number;
  let smallest: number;
  try {
    program = env.parse(rewritten) as unknown as Program;
    const checked = program.check();
    if (checked && checked.valid === false) throw checked.error ?? new Error("type check failed");
    if (checked?.type && !["bool", "dyn"].includes(checked.type)) {
      throw new Error(`the filter must yield a bool, but yields ${checked.type}`);
    }
    guardAst(program.ast);
    largest = estimateFilterCost(program.ast, EVENT_BOUNDS, ESTIMATE_OPTIONS);
    smallest = estimateFilterCost(program.ast, SMALLEST_EVENT, ESTIMATE_OPTIONS);
  } catch (error) {
    throw new HubError("SB_FILTER_INVALID", restoreTypeIdentifier(describe(error, source)));
  }
  if (!(largest <= FILTER_COST.limit)) {
    throw new HubError(
      "SB_FILTER_TOO_COSTLY",
      `the filter's estimated cost ${formatCost(largest)} exceeds the limit ${formatCost(FILTER_COST.limit)} on the largest event`,
    );
  }
  if (!(smallest <= FILTER_COST.budget)) {
    throw new HubError(
      "SB_FILTER_TOO_COSTLY",
      `the filter's estimated cost ${formatCost(smallest)} exceeds the limit ${formatCost(FILTER_COST.budget)} even on the smallest event`,
    );
  }
  return {
    source,
    matches(event: FilterInput): boolean {
      // Errors are control flow inside cel-js (a missing field in `exists`); their stack traces are never read.
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      startBudget(FILTER_COST.budget);
      try {
        const result = program({
          data: event.data,
          attributes: event.attributes,
          headers: event.headers ?? NO_HEADERS,
          topic: event.topic,
          [TYPE_VAR]: event.type,
          key: event.key,
          source: event.source,
          subject: event.subject,
          id: event.id,
          time: new Date(event.time),
        });
        if (!budgetExceeded()) return result === true;
      } catch {
        // an evaluation error: no match, counted below
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
      }
      onError?.();
      return false;
    },
  };
}

/** `1.0e8`: costs span many orders of magnitude. */
export function formatCost(units: number): string {
  return units.toExponential(1).replace("e+", "e");
}

/** The error's message; for an invalid `matches` pattern, with the line and a caret as the parser gives them. */
function describe(error: unknown, source: string): string {
  const e = error as Error & { pos?: number };
  if (typeof e.pos !== "number") return e.message;
  const lineStart = source.lastIndexOf("\n", e.pos - 1) + 1;
  const lineEnd = source.indexOf("\n", e.pos);
  const lineNumber = source.slice(0, e.pos).split("\n").length;
  const line = source.slice(lineStart, lineEnd === -1 ? source.length : lineEnd);
  return `${e.message}\n\n> ${String(lineNumber).padStart(4, " ")} | ${line}\n${" ".repeat(9 + e.pos - lineStart)}^`;
}

function restoreTypeIdentifier(message: string): string {
  // Whole words only: a user's own `_type` or `_typed` must not come back as `typee` or `typeed`.
  return message.replace(new RegExp(`\\b${TYPE_VAR}\\b`, "g"), "type");
}

/** Renames each bare identifier `type` (not a field `.type`, not a call `type(…)`, not inside a string). */
export function renameTypeIdentifier(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      const stop = end === -1 ? src.length : end;
      out += src.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      const raw = /[rR]$/.test(out) && !/[A-Za-z0-9_][rR]$/.test(out.slice(-2));
      const stop = stringEnd(src, i, raw);
      out += src.slice(i, stop);
      i = stop;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      const word = src.slice(i, j);
      const before = out.trimEnd().slice(-1);
      const after = src.slice(j).trimStart()[0];
      out += word === "type" && before !== "." && after !== "(" ? TYPE_VAR : word;
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function stringEnd(src: string, start: number, raw: boolean): number {
  const q = src[start]!;
  const triple = src.startsWith(q.repeat(3), start);
  const close = triple ? q.repeat(3) : q;
  let i = start + close.length;
  while (i < src.length) {
    if (!raw && src[i] === "\\") {
      i += 2;
      continue;
    }
    if (src.startsWith(close, i)) return i + close.length;
    i++;
  }
  return src.length;
}
