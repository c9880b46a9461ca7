import type { Logger } from "pino";
import { buildApp, type App } from "./api/build-app.js";
import type { Config } from "./config.js";
import { createHub, type Hub } from "./hub.js";
import { createLogger } from "./log.js";

/** A listening hub. */
export interface RunningServer {
  hub: Hub;
  app: App;
  /** `http://host:port` actually bound (port 0 resolved). */
  url: string;
  /** Stops taking work, finishes and commits requests in flight, closes streams with a retry hint, closes the store. */
  shutdown(): Promise<void>;
}

/** Opens the store, builds the app and listens. Used by `npm start` and `switchboard serve`. */
export async function startServer(config: Readonly<Config>, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const hub = await createHub({ ...config, log });
  let app: App;
  try {
    app = await buildApp({ hub, log });
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (error) {
    await hub.close();
    throw error;
  }
  app.lifecycle = "ready";
  const address = app.fastify.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, store: hub.store.dialect, basePath: config.basePath || "/" }, "switchboard listening");

  let stopping: Promise<void> | undefined;
  return {
    hub,
    app,
    url,
    shutdown() {
      stopping ??= (async () => {
        app.lifecycle = "draining";
        hub.streams.closeAll();
        await app.fastify.close(); // stops accepting; waits for requests in flight (their commits included)
        await hub.close(); // drains the commit queue, closes the store
        log.info("switchboard stopped");
      })();
      return stopping;
    },
  };
}
