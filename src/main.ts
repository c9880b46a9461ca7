import { loadConfig, type Config } from "./config.js";
import { ConfigError } from "./errors.js";
import { createLogger } from "./log.js";
import { startServer } from "./server.js";

/**
 * Runs the hub until SIGTERM or SIGINT, then shuts down gracefully: exit 0 when everything in flight was
 * committed, 1 when the grace period ran out. Invalid configuration exits 2 with one line naming the key.
 */
export async function runServer(overrides: Partial<Record<keyof Config, unknown>> = {}, configFile?: string): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig({ overrides, file: configFile });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchboard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  let server;
  try {
    server = await startServer(config, log);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchboard: ${error.message}\n`);
      process.exit(2);
    }
    const code = (error as { code?: string }).code;
    const message = code === "EADDRINUSE" ? `port ${config.port} on ${config.host} is already in use; set PORT to another port` : (error as Error).message;
    log.fatal({ err: error }, "switchboard failed to start");
    process.stderr.write(`switchboard: ${message}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown timed out; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

// `node dist/main.js` (npm start) runs the server; importing this module does not.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  void runServer();
}
