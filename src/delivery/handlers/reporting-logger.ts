import type { Logger } from "pino";
import type { ErrorReporter } from "./function-destination.js";

/**
 * `log`, whose `error` and `fatal` calls (its children's too) are also handed to `report`: how `onError` hears of the
 * delivery loop's internal errors (a failed log read, claim, record or lease renewal) without a hook at each site.
 * The error is the call's `err` (or an Error of its message); the message is `info.during`.
 */
export function reportingLogger(log: Logger, report: ErrorReporter): Logger {
  return new Proxy(log, {
    get(target, prop) {
      if (prop === "error" || prop === "fatal") {
        return (obj: unknown, ...rest: unknown[]) => {
          const message = typeof obj === "string" ? obj : typeof rest[0] === "string" ? rest[0] : "internal error";
          const err = typeof obj === "object" && obj !== null && "err" in obj ? (obj as { err: unknown }).err : new Error(message);
          try {
            report(err, { during: message });
          } catch {
            // onError must not break the loop that reports to it.
          }
          return (target[prop] as (...args: unknown[]) => void).call(target, obj, ...rest);
        };
      }
      if (prop === "child") return (...args: Parameters<Logger["child"]>) => reportingLogger(target.child(...args) as unknown as Logger, report);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as Logger;
}
