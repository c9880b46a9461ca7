import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

/** A loopback TCP proxy in front of a server that a test can cut (as if the server went down) and restore. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Client connections open now. */
  readonly openConnections: number;
  /** Drops every connection and refuses new ones (the listening port is closed): the server looks stopped. */
  cut(): Promise<void>;
  /**
   * A network partition: connections are still accepted, but nothing is forwarded either way, on new connections or
   * on those already open (the server looks alive and never answers). `restore()` drops them and forwards again.
   */
  stall(): void;
  /** Listens again on the same port (or ends a stall) and forwards as before. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding to `targetHost:targetPort`.
 * @example const proxy = await startTcpProxy(4222); await proxy.cut(); await proxy.restore();
 */
export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let accepted = 0;
  let port = 0;
  let server: Server | undefined;

  let stalled = false;
  /** Stalled connections, held open without forwarding until restore. */
  const held = new Set<Socket>();

  const listen = async () => {
    const s = createServer((client) => {
      accepted++;
      if (stalled) {
        held.add(client);
        client.on("error", () => client.destroy()).on("close", () => held.delete(client));
        return;
      }
      const upstream = connect(targetPort, targetHost);
      sockets.add(client).add(upstream);
      clients.add(client);
      const drop = () => {
        clients.delete(client);
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    clients.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    get openConnections() {
      return clients.size;
    },
    cut: stop,
    stall() {
      stalled = true;
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
        held.add(socket);
      }
    },
    async restore() {
      if (stalled) {
        stalled = false;
        for (const socket of held) socket.destroy();
        held.clear();
      }
      if (!server) await listen();
    },
    async close() {
      for (const socket of held) socket.destroy();
      held.clear();
      await stop();
    },
  };
}
