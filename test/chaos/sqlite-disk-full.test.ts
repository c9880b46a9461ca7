/**
 * SQLite's disk fills up while the hub ingests: the database lives on a size-limited tmpfs mounted for this test (the
 * tests run as root; where mounting is not permitted this test fails and says why, it does not skip). Publishes that
 * find no room get 507 SB_STORE_FULL with Retry-After, the file stays intact (`PRAGMA integrity_check`), every
 * acknowledged event stays readable, and ingest resumes once space is freed, without a restart.
 */
import Database from "better-sqlite3";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAllEvents, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";

/** The filesystem's size: room for the schema, a few hundred events and the WAL. */
const TMPFS_SIZE = "8m";

describe("chaos: SQLite's disk full", () => {
  let mountPoint: string;
  let mounted = false;
  let hub: TestHub | undefined;

  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), "switchboard-full-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE},mode=0700`, "tmpfs", mountPoint], { stdio: "pipe" });
      mounted = true;
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim();
      throw new Error(`cannot mount a size-limited tmpfs for the disk-full test (it needs root or CAP_SYS_ADMIN): ${stderr || (error as Error).message}`);
    }
  });

  afterAll(async () => {
    await hub?.close();
    if (mounted) execFileSync("umount", [mountPoint], { stdio: "pipe" });
    await rmdir(mountPoint).catch(() => {});
  });

  it(
    "answers 507 with Retry-After when full, keeps the file intact and every acknowledged event, and resumes once space is freed",
    { timeout: 60_000 },
    async () => {
      const dbPath = join(mountPoint, "hub.db");
      hub = await startTestHub({ databaseUrl: `sqlite:${dbPath}` });
      const topic = "chaos.full";
      const acknowledged: string[] = [];
      const refusals: Array<{ status: number; code: string; retryAfter: string | null }> = [];
      const filler = join(mountPoint, "filler");
      // Single events and, every fourth publish, a batch of three with an Idempotency-Key (each in its own savepoint).
      const post = async (i: number) => {
        const event = (k: number) => ({ topic, data: { i, k, pad: "x".repeat(4_000) } });
        const reply =
          i % 4 === 0
            ? await postJson(`${hub!.url}/api/events`, [event(0), event(1), event(2)], { "idempotency-key": `full-${i}` })
            : await postJson(`${hub!.url}/api/events`, event(0));
        if (reply.status === 201) acknowledged.push(...(Array.isArray(reply.body) ? reply.body : [reply.body]).map((e: { id: string }) => e.id));
        else refusals.push({ status: reply.status, code: reply.body?.code, retryAfter: reply.headers.get("retry-after") });
        return reply.status;
      };
      for (let i = 0; i < 20; i++) expect(await post(i)).toBe(201);

      // Leave the database a few hundred KiB: take the rest of the filesystem with a file.
      const free = freeBytes(mountPoint);
      await writeFile(filler, Buffer.alloc(Math.max(0, free - 400 * 1024)));

      // Publish, 4 at a time, until the disk is full and then some.
      let i = 20;
      while (refusals.length < 40 && i < 5_000) {
        await Promise.all([post(i++), post(i++), post(i++), post(i++)]);
      }
      expect(refusals.length, "publishes refused once the disk was full").toBeGreaterThanOrEqual(40);
      const distinct = [...new Set(refusals.map((r) => `${r.status} ${r.code} retry-after=${r.retryAfter}`))];
      expect(distinct).toEqual(["507 SB_STORE_FULL retry-after=30"]);

      // Readable while full: every acknowledged event, listed and by id; health still answers.
      await expectReadable(hub.url, topic, acknowledged);
      expect((await request(`${hub.url}/health`)).status).toBe(200);

      // Space back: ingest resumes without a restart.
      await rm(filler);
      const after: number[] = [];
      for (let k = 0; k < 20; k++) after.push(await post(i++));
      expect(after.every((status) => status === 201)).toBe(true);
      await expectReadable(hub.url, topic, acknowledged);

      // The file is intact, both while the hub has it open and after it closed.
      expect(integrityCheck(dbPath)).toEqual(["ok"]);
      await hub.close();
      hub = undefined;
      expect(integrityCheck(dbPath)).toEqual(["ok"]);
      const db = new Database(dbPath, { readonly: true });
      try {
        const stored = new Set(
          db
            .prepare<[], { id: string }>("SELECT id FROM events")
            .all()
            .map((r) => r.id),
        );
        expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
      } finally {
        db.close();
      }
    },
  );
});

function freeBytes(path: string): number {
  const out = execFileSync("df", ["-B1", "--output=avail", path], { encoding: "utf8" });
  return Number(out.trim().split("\n").at(-1));
}

function integrityCheck(path: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], { integrity_check: string }>("PRAGMA integrity_check")
      .all()
      .map((r) => r.integrity_check);
  } finally {
    db.close();
  }
}

async function expectReadable(hubUrl: string, topic: string, ids: readonly string[]): Promise<void> {
  const listed = new Set((await listAllEvents(hubUrl, { topic })).map((e) => e.id as string));
  expect(ids.filter((id) => !listed.has(id))).toEqual([]);
  for (const id of [ids[0]!, ids.at(-1)!]) expect((await request(`${hubUrl}/api/events/${id}`)).status).toBe(200);
}
