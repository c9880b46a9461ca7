import type { Logger } from "pino";
import { buildApp, type App } from "./api/build-app.js";
import type { Config } from "./config.js";
import { ConfigError } from "./errors.js";
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

/**
 * Connections the kernel holds for the hub before it accepts them (capped by the system's `net.core.somaxconn`).
 * Node's default, 511, overflows when thousands of streams reconnect at once (after a restart): the overflow's SYNs
 * are dropped and retried 1 s, then 3 s later. With 10,000 streams connecting at once the last had its headers
 * after 4-5 s.
 */
const LISTEN_BACKLOG = 8192;

/** Opens the store, builds the app and listens. Used by `npm start` and `switchboard serve`. */
export async function startServer(config: Readonly<Config>, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const hub = await createHub({ ...config, log });
  let app: App;
  try {
    await refuseOpenHub(config, hub);
    app = await buildApp({ hub, log });
    await app.fastify.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  } catch (error) {
    await hub.close();
    throw error;
  }
  app.lifecycle = "ready";
  const address = app.fastify.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, store: hub.store.dialect, basePath: config.basePath || "/", role: config.role }, "switchboard listening");

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

/**
 * A hub reachable beyond this machine with no credential configured would take anyone's events: refuse to start,
 * unless auth was switched off on purpose (`SWITCHBOARD_AUTH=none`).
 * @throws ConfigError (the process exits 2)
 */
async function refuseOpenHub(config: Readonly<Config>, hub: Hub): Promise<void> {
  if (config.auth === "none" || isLoopbackHost(config.host) || (await hub.auth.enabled())) return;
  throw new ConfigError(
    "HOST",
    `${config.host} is reachable beyond this machine, but no credential is configured, so anyone could publish and read: ` +
      "set SWITCHBOARD_JWT_SECRET, SWITCHBOARD_JWT_PUBLIC_KEY or SWITCHBOARD_JWKS_URL, or create an API key " +
      "(switchboard keys create --scope admin), or set SWITCHBOARD_AUTH=none to run without auth on purpose",
  );
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1) or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
