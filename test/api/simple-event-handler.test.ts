/**
 * Simple Event Handler's users: its `DB_*` variables start the hub on their PostgreSQL database and schema, its
 * event bodies publish as they are, and `GET /api/events?…&format=rows` answers its flat rows.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { postJson, request } from "../helpers/hub.js";
import { ADMIN_URL, describeWithPostgres } from "../helpers/postgres.js";

const DATABASE = `switchboard_seh_${process.pid}`;

await describeWithPostgres("Simple Event Handler", "starts on DB_* and answers format=rows", () => {
  let admin: pg.Client;
  let server: RunningServer;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    const url = new URL(ADMIN_URL);
    // No DATABASE_URL: the DB_* variables, as Simple Event Handler's .env has them, make it up.
    const config = loadConfig({
      env: {
        DB_HOST: url.hostname,
        DB_PORT: url.port || "5432",
        DB_USERNAME: decodeURIComponent(url.username),
        DB_PASSWORD: decodeURIComponent(url.password),
        DB_DATABASE: DATABASE,
        DB_SCHEMA: "events_app",
        PORT: "0",
        LOG_LEVEL: "silent",
      },
    });
    server = await startServer(config, createLogger("silent"));
  });

  afterAll(async () => {
    await server?.shutdown();
    if (!admin) return;
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.end();
  });

  describe("Simple Event Handler", () => {
    it("keeps the hub's tables in DB_SCHEMA of DB_DATABASE", async () => {
      const client = new pg.Client({ connectionString: new URL(`/${DATABASE}`, ADMIN_URL).toString() });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'events'`);
        expect(rows.map((r) => r.table_schema)).toEqual(["events_app"]);
      } finally {
        await client.end();
      }
    });

    it("answers GET /api/events?…&format=rows with its flat rows, filtered by data field and time", async () => {
      const base = `${server.url}/api/events`;
      const posted = [
        { user_id: 123, action: "login", metadata: { page: "/home" } },
        { user_id: 123, action: "purchase", metadata: { item: "/home" } },
        { user_id: 7, action: "login", metadata: {} },
      ];
      const seqs: number[] = [];
      for (const body of posted) {
        const reply = await postJson(base, body); // its bodies are the data of an event on the default topic
        expect(reply.status, reply.text).toBe(201);
        seqs.push(reply.body.seq);
      }
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 3_600_000).toISOString();
      const reply = await request(`${base}?user_id=123&from=${from}&to=${to}&format=rows`);
      expect(reply.status, reply.text).toBe(200);
      expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
      expect(reply.headers.get("next-cursor")).toBeNull();
      expect(reply.body).toEqual([
        { id: seqs[0], user_id: 123, action: "login", metadata: { page: "/home" }, created_at: expect.any(String) },
        { id: seqs[1], user_id: 123, action: "purchase", metadata: { item: "/home" }, created_at: expect.any(String) },
      ]);
      expect(Object.keys(reply.body[0])).toEqual(["id", "user_id", "action", "metadata", "created_at"]);
      for (const row of reply.body) expect(Math.abs(Date.parse(row.created_at) - Date.now())).toBeLessThan(60_000);

      // A range that holds none of them: an empty array, as Simple Event Handler answers.
      const empty = await request(`${base}?user_id=123&from=2020-01-01&to=2020-01-02&format=rows`);
      expect(empty.body).toEqual([]);
    });

    it("pages with the Next-Cursor header, and refuses an unknown format", async () => {
      const base = `${server.url}/api/events`;
      const first = await request(`${base}?action=login&limit=1&format=rows`);
      expect(first.body).toHaveLength(1);
      const cursor = first.headers.get("next-cursor");
      expect(cursor).toEqual(expect.any(String));
      const second = await request(`${base}?action=login&limit=1&format=rows&cursor=${encodeURIComponent(cursor!)}`);
      expect(second.body.map((r: { user_id: number }) => r.user_id)).toEqual([7]);
      expect(second.body[0].id).toBeGreaterThan(first.body[0].id);

      const bad = await request(`${base}?format=csv`);
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({ error: "invalid query", details: 'format must be rows or page, got "csv"', code: "SB_QUERY_INVALID" });
    });

    it("gives data that is not an object as `data`, and the hub's id over the data's own", async () => {
      const base = `${server.url}/api/events`;
      await postJson(`${server.url}/api/topics/seh.misc/events`, '"just text"');
      await postJson(`${server.url}/api/topics/seh.misc/events`, { id: "mine", created_at: "yesterday", n: 1 });
      const reply = await request(`${base}?topic=seh.misc&format=rows`);
      expect(reply.body.map((r: Record<string, unknown>) => ({ ...r, created_at: typeof r.created_at }))).toEqual([
        { id: expect.any(Number), data: "just text", created_at: "string" },
        { id: expect.any(Number), n: 1, created_at: "string" },
      ]);
      expect(reply.body[1].created_at).not.toBe("yesterday");
    });
  });
});
