import { useCallback, useEffect, useState } from "react";
import { SwitchboardError } from "./api";

/** Runs `load` now and on `reload()`; gives its value, or its error as text. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [value, setValue] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const run = useCallback(load, deps);
  const reload = useCallback(() => {
    setError(undefined);
    run().then(setValue, (e: unknown) => setError(errorText(e)));
  }, [run]);
  useEffect(reload, [reload]);
  return { value, error, reload };
}

/** An error as one line for people: the hub's details and code, or the message. */
export function errorText(e: unknown): string {
  if (e instanceof SwitchboardError) return `${e.details} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** An error line; a multi-line one (a CEL filter's, with its caret under the position) keeps its layout. */
export function ErrorText({ error }: { error: string | undefined }) {
  if (!error) return null;
  return error.includes("\n") ? (
    <pre className="error" role="alert">
      {error}
    </pre>
  ) : (
    <p className="error" role="alert">
      {error}
    </p>
  );
}
