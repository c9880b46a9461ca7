/**
 * The bare `node:http` baseline: what the hub's HTTP work would cost with no framework, no validation, no storage
 * and no logging. `POST /api/events` reads the body, JSON.parses it, writes it as an SSE frame to every open
 * `GET /events` stream and answers 201 with a small JSON body shaped like the hub's; `GET /health` answers 200.
 * PORT from the environment; loopback only.
 */
import { createServer, type ServerResponse } from "node:http";

const streams = new Set<ServerResponse>();
let seq = 0;

const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/api/events") {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":"invalid JSON"}');
        return;
      }
      seq++;
      const id = `evt_${String(seq).padStart(26, "0")}`;
      if (streams.size > 0) {
        const frame = `id: ${id}\ndata: ${JSON.stringify(body)}\n\n`;
        for (const s of streams) s.write(frame);
      }
      const reply = JSON.stringify({ id, seq, topic: "default" });
      res.writeHead(201, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(reply) }).end(reply);
    });
    return;
  }
  if (req.method === "GET" && req.url?.startsWith("/events")) {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.socket?.setNoDelay(true);
    res.write("retry: 2000\n: connected\n\n");
    streams.add(res);
    res.on("close", () => streams.delete(res));
    return;
  }
  if (req.method === "GET" && req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  res.writeHead(404).end();
});
// As the hub configures fastify: keep idle connections for a minute.
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");

process.once("SIGTERM", () => {
  for (const s of streams) s.end();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
