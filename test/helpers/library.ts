/**
 * Hubs used as a library (`createHub`), on a real SQLite file or a real PostgreSQL database of their own, which
 * outlives each hub so that a test can close one and open the next on the same data (a restart).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createHub, type Hub, type HubOptions } from "../../src/hub.js";
import { createLogger } from "../../src/log.js";
import type { Delivery } from "../../src/store/store.js";
import { ADMIN_URL, databaseUrl } from "./postgres.js";

export type StoreKind = "sqlite" | "postgres";

/** Where the hubs of one test keep their data, and the hubs opened there (closed by {@link HubPlace.dispose}). */
export interface HubPlace {
  databaseUrl: string;
  open(options?: HubOptions): Promise<Hub>;
  dispose(): Promise<void>;
}

let serial = 0;

/** A fresh, empty store of `kind`. */
export async function newPlace(kind: StoreKind): Promise<HubPlace> {
  const hubs: Hub[] = [];
  let url: string;
  let drop: () => Promise<void>;
  if (kind === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-lib-"));
    url = `sqlite:${join(dir, "app.db")}`;
    drop = () => rm(dir, { recursive: true, force: true });
  } else {
    const name = `switchboard_lib_${process.pid}_${++serial}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
    url = databaseUrl(name);
    drop = async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    };
  }
  return {
    databaseUrl: url,
    async open(options = {}) {
      const hub = await createHub({ databaseUrl: url, log: createLogger("silent"), ...options });
      hubs.push(hub);
      return hub;
    },
    async dispose() {
      for (const hub of hubs.splice(0)) await hub.close();
      await drop();
    },
  };
}

/** Every delivery of the subscription, oldest first. */
export async function deliveriesOf(hub: Hub, subscriptionId: string): Promise<Delivery[]> {
  return (await hub.store.deliveries.search({ subscriptionId, limit: 1000 })).reverse();
}

/** The id of the handler's subscription. */
export async function handlerId(hub: Hub, name: string): Promise<string> {
  const sub = (await hub.store.subscriptions.list()).find((s) => s.url === `function:${name}`);
  if (!sub) throw new Error(`no subscription for handler ${name}`);
  return sub.id;
}

/** A promise and the function that resolves it. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
