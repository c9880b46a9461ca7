import { useEffect, useMemo, useState } from "react";
import { JsonSyntaxError, parseJsonSource, positionOf, type TextPosition } from "./json-source";

/** A problem of the schema text: what, where in the schema (a JSON Pointer) and where in the text. */
export interface SchemaTextProblem {
  message: string;
  path?: string;
  position?: TextPosition;
}

type Checker = typeof import("./schema-check");
let checker: Promise<Checker> | undefined;
/** The JSON Schema checker (Ajv), loaded once, on first use: a chunk of its own. */
function loadChecker(): Promise<Checker> {
  checker ??= import("./schema-check").catch((e: unknown) => {
    checker = undefined; // a failed load (the hub restarted with a new build) is tried again on the next change
    throw e;
  });
  return checker;
}

/**
 * Checks schema text while it is typed: as JSON at once (with the line and column of a syntax error), then as a
 * JSON Schema once the checker has loaded (each problem with its path in the schema and its line and column).
 * `checking` is true while the checker has not answered for the current text. Empty text has no problems.
 */
export function useSchemaCheck(text: string): { problems: SchemaTextProblem[]; checking: boolean } {
  const [result, setResult] = useState<{ text: string; problems: SchemaTextProblem[] }>({ text: "", problems: [] });
  const parsed = useMemo(() => parse(text), [text]);
  useEffect(() => {
    if (!("source" in parsed)) return;
    let current = true;
    loadChecker().then(
      ({ checkSchema }) => {
        if (!current) return;
        const problems = checkSchema(parsed.source.value)
          .map(({ path, message }) => ({ path, message, position: locate(text, parsed.source.starts, path) }))
          .sort((a, b) => (a.position?.offset ?? -1) - (b.position?.offset ?? -1)); // in the order of the text
        setResult({ text, problems });
      },
      () => current && setResult({ text, problems: [] }), // the hub checks it on save all the same
    );
    return () => {
      current = false;
    };
  }, [text, parsed]);
  if (!("source" in parsed)) return { problems: parsed.problems, checking: false };
  return result.text === text ? { problems: result.problems, checking: false } : { problems: [], checking: true };
}

function parse(text: string): { source: ReturnType<typeof parseJsonSource> } | { problems: SchemaTextProblem[] } {
  if (text.trim() === "") return { problems: [] };
  try {
    return { source: parseJsonSource(text) };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { problems: [{ message: `not JSON: ${e.message}`, position: e.position }] };
    throw e;
  }
}

/** Where the value at `path` starts in the text, or that of its nearest parent that is there. */
function locate(text: string, starts: Map<string, number>, path: string): TextPosition | undefined {
  for (let p = path; ; p = p.slice(0, p.lastIndexOf("/"))) {
    const offset = starts.get(p);
    if (offset !== undefined) return positionOf(text, offset);
    if (p === "") return undefined;
  }
}

/**
 * The problems of the schema text under its editor: each with its line, column and path; the first also as its line
 * of text with a caret under the place.
 */
export function SchemaProblems({ id, text, problems }: { id: string; text: string; problems: SchemaTextProblem[] }) {
  if (problems.length === 0) return null;
  const first = problems[0]!;
  const line = first.position && text.split("\n")[first.position.line - 1];
  return (
    <div id={id} className="error schema-problems" aria-live="polite">
      <ul>
        {problems.map((p, i) => (
          <li key={i}>
            {p.position && `line ${p.position.line}, column ${p.position.column}: `}
            {p.path ? <code>{p.path}</code> : null}
            {p.path ? " " : ""}
            {p.message}
          </li>
        ))}
      </ul>
      {line !== undefined && first.position && (
        <pre aria-hidden="true">
          {line}
          {"\n"}
          {" ".repeat(first.position.column - 1)}^
        </pre>
      )}
    </div>
  );
}
