/**
 * An order service using Switchboard as a library: it writes orders to its own table and raises `orders.created`,
 * and two durable handlers react to it:
 * - `reserve-stock` (priority 50, 4 at a time, in order per order id) counts the items reserved;
 * - `send-receipt` calls a flaky mail server that refuses each receipt twice: the hub retries it on its backoff,
 *   reports each failure to `onError`, and the third run passes.
 *
 * Run it: `npx tsx examples/order-service.ts [sqlite:./data/orders.db]` (default: a temporary SQLite file).
 * The events and the handlers' deliveries are in the hub's tables of the same file; `GET /api/subscriptions` of a hub
 * serving that file lists both handlers with `kind: "function"`.
 */
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createHub, type Hub, type PublishInput } from "../src/index.js";

/** What a run of the service did, for the caller (and the test). */
export interface OrderServiceReport {
  orders: number;
  reserved: number;
  receipts: string[];
  /** Every run of send-receipt: order id and attempt. */
  receiptRuns: Array<[string, number]>;
  /** What onError heard: handler, attempt, message. */
  errors: Array<[string | undefined, number | undefined, string]>;
}

/**
 * Raises an event for the business write that `tx` is making, through the outbox: inside the same transaction, so the
 * event exists if and only if the order does, even if the process dies right after the commit.
 */
const raise = (hub: Hub, tx: Database.Database, event: PublishInput) => hub.outbox.publish(tx, event);

/** A mail server that refuses each receipt twice before it accepts it. */
function flakyMailServer(): (to: string, orderId: string) => Promise<string> {
  const calls = new Map<string, number>();
  return async (to, orderId) => {
    const call = (calls.get(orderId) ?? 0) + 1;
    calls.set(orderId, call);
    if (call <= 2) throw new Error(`mail server busy (receipt ${orderId}, call ${call})`);
    return `receipt for ${orderId} sent to ${to}`;
  };
}

/** Runs the service on `sqlitePath`: places `orders` orders, waits for both handlers to finish them, closes. */
export async function runOrderService(sqlitePath: string, orders = 3): Promise<OrderServiceReport> {
  const report: OrderServiceReport = { orders, reserved: 0, receipts: [], receiptRuns: [], errors: [] };
  const hub = await createHub({
    databaseUrl: `sqlite:${sqlitePath}`,
    logLevel: "warn",
    onError: (err, info) => report.errors.push([info.handler, info.attempt, (err as Error).message]),
  });
  const db = new Database(sqlitePath);
  db.pragma("busy_timeout = 5000");
  db.exec("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, email TEXT NOT NULL, total REAL NOT NULL, items INTEGER NOT NULL)");
  const sendMail = flakyMailServer();
  try {
    hub.handle(
      "orders.created",
      async (event, ctx) => {
        const order = event.data as { id: string; email: string };
        report.receiptRuns.push([order.id, ctx.attempt]);
        report.receipts.push(await sendMail(order.email, order.id)); // throws: this attempt fails and is retried
      },
      { name: "send-receipt", maxErrors: 5, backoff: [0.05, 0.2, 1], filter: "data.total > 0" },
    );
    hub.handle(
      "orders.created",
      (event) => {
        report.reserved += (event.data as { items: number }).items;
      },
      { name: "reserve-stock", priority: 50, concurrency: 4, ordering: "key" },
    );
    await hub.start();

    for (let n = 1; n <= orders; n++) {
      const order = { id: `o-${n}`, email: `customer${n}@example.com`, total: 40 * n, items: n };
      // better-sqlite3 transactions are synchronous, and so is the outbox write on SQLite.
      db.transaction(() => {
        db.prepare("INSERT INTO orders (id, email, total, items) VALUES (@id, @email, @total, @items)").run(order);
        raise(hub, db, { topic: "orders.created", key: order.id, data: order });
      })();
    }
    await untilDone(hub, orders);
    return report;
  } finally {
    db.close();
    await hub.close();
  }
}

/** Waits until each handler has delivered every order (or 30 s pass). */
async function untilDone(hub: Hub, orders: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const delivered = await hub.store.deliveries.search({ status: "delivered", limit: 1000 });
    if (delivered.length >= 2 * orders) return;
    if (Date.now() > deadline) throw new Error(`handlers did not finish: ${delivered.length} of ${2 * orders} deliveries`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const given = process.argv[2]?.replace(/^sqlite:/, "");
  const dir = given ? undefined : mkdtempSync(join(tmpdir(), "order-service-"));
  try {
    const report = await runOrderService(given ?? join(dir!, "orders.db"));
    console.log(JSON.stringify(report));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
