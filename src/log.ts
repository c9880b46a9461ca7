import pino, { type Logger, type LoggerOptions } from "pino";

/** Paths never written to logs. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers[\"idempotency-key\"]",
  "req.headers[\"x-api-key\"]",
  "headers.authorization",
  "headers.cookie",
  "*.secret",
  "*.password",
  "*.token",
  "config.databaseUrl",
];

/** The hub's pino logger: JSON to stdout, secrets redacted. */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  return pino({
    level,
    base: { service: "switchboard" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}
