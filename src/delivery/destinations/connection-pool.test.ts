import pino from "pino";
import { describe, expect, it } from "vitest";
import type { BrokerConnection, BrokerDriver, BrokerTarget, ConnectionListener } from "./broker-driver.js";
import { ConnectionPool } from "./connection-pool.js";

/** A driver whose connects are scripted: each call takes the next result (an Error rejects). */
function fakeDriver(script: Array<"ok" | Error | Promise<void>>) {
  const connections: Array<BrokerConnection & { closed: number; listener: ConnectionListener }> = [];
  let calls = 0;
  const driver: BrokerDriver = {
    name: "fake",
    schemes: ["fake"],
    parseUrl: () => target,
    async connect(_target, listener) {
      const step = script[calls++] ?? "ok";
      if (step instanceof Error) throw step;
      if (step instanceof Promise) await step;
      const c = { closed: 0, listener, close: async () => void c.closed++ };
      connections.push(c);
      return c;
    },
    publish: async () => ({ excerpt: null }),
  };
  return { driver, connections, calls: () => calls };
}

const target: BrokerTarget = { endpointKey: "fake://u:p@127.0.0.1:1", endpointLabel: "fake://127.0.0.1:1", host: "127.0.0.1", address: "queue q" };
const pool = () => new ConnectionPool({ log: pino({ level: "silent" }), allowPrivate: true, minBackoffMs: 5, maxBackoffMs: 20 });
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("ConnectionPool", () => {
  it("shares one connection between users and closes it when the last one leaves", async () => {
    const { driver, connections, calls } = fakeDriver(["ok"]);
    const p = pool();
    p.acquire(driver, target, "sub_a");
    p.acquire(driver, target, "sub_b");
    expect(await p.connection(target.endpointKey, 1_000)).toBe(connections[0]);
    expect(calls()).toBe(1);
    expect(p.health()).toEqual([{ kind: "fake", endpoint: "fake://127.0.0.1:1", state: "connected", subscriptions: 2, error: null }]);
    p.release(target.endpointKey, "sub_a");
    expect(connections[0]!.closed).toBe(0);
    p.release(target.endpointKey, "sub_b");
    await settle();
    expect(connections[0]!.closed).toBe(1);
    expect(p.size).toBe(0);
  });

  it("reopens a failed connect after a backoff, and says why meanwhile", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const { driver, calls } = fakeDriver([refused, refused, "ok"]);
    const p = pool();
    p.acquire(driver, target, "sub_a");
    const none = await p.connection(target.endpointKey, 1_000);
    expect(none).toBeInstanceOf(Error);
    expect((none as Error).message).toBe("fake://127.0.0.1:1 is not connected: connect ECONNREFUSED 127.0.0.1:1");
    expect(p.health()[0]).toMatchObject({ state: "disconnected", error: "connect ECONNREFUSED 127.0.0.1:1" });
    for (let i = 0; i < 500 && p.health()[0]!.state !== "connected"; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls()).toBe(3);
    expect(p.health()[0]).toMatchObject({ state: "connected", error: null });
    await p.close();
  });

  it("a connection the broker closes is reopened", async () => {
    const { driver, connections, calls } = fakeDriver(["ok", "ok"]);
    // A code the message does not carry is put in front of it.
    const p = pool();
    p.acquire(driver, target, "sub_a");
    await p.connection(target.endpointKey, 1_000);
    connections[0]!.listener.closed(Object.assign(new Error("127.0.0.1:1"), { code: "CONNECTION_CLOSED" }));
    expect(p.health()[0]).toMatchObject({ state: "disconnected", error: "CONNECTION_CLOSED 127.0.0.1:1" });
    for (let i = 0; i < 500 && calls() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await p.connection(target.endpointKey, 1_000)).toBe(connections[1]);
    // Reports of the old connection no longer count.
    connections[0]!.listener.disconnected(new Error("late"));
    expect(p.health()[0]!.state).toBe("connected");
    await p.close();
    expect(connections[1]!.closed).toBe(1);
  });

  it("a connection still opening when its last user leaves is closed once open", async () => {
    let open!: () => void;
    const { driver, connections } = fakeDriver([new Promise<void>((resolve) => (open = resolve))]);
    const p = pool();
    p.acquire(driver, target, "sub_a");
    p.release(target.endpointKey, "sub_a");
    open();
    await new Promise((r) => setTimeout(r, 10));
    expect(connections[0]!.closed).toBe(1);
    expect(p.size).toBe(0);
  });

  it("waits for a connect in progress up to waitMs", async () => {
    let open!: () => void;
    const { driver, connections } = fakeDriver([new Promise<void>((resolve) => (open = resolve))]);
    const p = pool();
    p.acquire(driver, target, "sub_a");
    const early = await p.connection(target.endpointKey, 20);
    expect((early as Error).message).toBe("fake://127.0.0.1:1 is not connected: still connecting after 20 ms");
    const waiting = p.connection(target.endpointKey, 1_000);
    open();
    expect(await waiting).toBe(connections[0]);
    await p.close();
    p.acquire(driver, target, "sub_b");
    expect(p.size).toBe(0);
  });
});
