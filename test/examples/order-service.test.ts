/** The order-service example runs as a program: both handlers finish every order, send-receipt after two failures each. */
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir, spawnNode } from "../helpers/process.js";

describe("examples/order-service.ts", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await removeDir(dir);
    dir = undefined;
  });

  it("runs: reserve-stock once per order, send-receipt failing twice per order then passing, onError told of each failure", { timeout: 60_000 }, async () => {
    dir = await makeTempDir();
    const file = join(dir, "orders.db");
    const child = spawnNode("examples/order-service.ts", [`sqlite:${file}`]);
    const exit = await child.exited;
    expect(exit, child.stderr).toEqual({ code: 0, signal: null });
    const report = JSON.parse(child.stdout.trim().split("\n").pop()!);
    expect(report.orders).toBe(3);
    expect(report.reserved).toBe(1 + 2 + 3);
    expect([...report.receipts].sort()).toEqual(["o-1", "o-2", "o-3"].map((id, i) => `receipt for ${id} sent to customer${i + 1}@example.com`));
    for (const id of ["o-1", "o-2", "o-3"]) {
      expect(report.receiptRuns.filter(([order]: [string]) => order === id).map(([, attempt]: [string, number]) => attempt)).toEqual([1, 2, 3]);
    }
    expect(report.errors).toHaveLength(6);
    expect(
      report.errors.every(
        ([handler, attempt, message]: [string, number, string]) => handler === "send-receipt" && attempt <= 2 && /mail server busy/.test(message),
      ),
    ).toBe(true);

    // Everything is in the file: the app's orders, and both handlers' deliveries, each delivered once.
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM orders").get()).toEqual({ n: 3 });
      const rows = db
        .prepare("SELECT s.url, d.status, d.attempts FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id ORDER BY s.url, d.event_seq")
        .all() as Array<{ url: string; status: string; attempts: number }>;
      expect(rows.map((r) => [r.url, r.status])).toEqual([
        ...[1, 2, 3].map(() => ["function:reserve-stock", "delivered"]),
        ...[1, 2, 3].map(() => ["function:send-receipt", "delivered"]),
      ]);
      expect(rows.filter((r) => r.url === "function:send-receipt").map((r) => r.attempts)).toEqual([3, 3, 3]);
    } finally {
      db.close();
    }
  });
});
