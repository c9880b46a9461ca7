import { afterAll, describe, expect, it } from "vitest";
import { listAllEvents, request } from "../helpers/hub.js";
import { makeTempDir, removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";

const running: SpawnedHub[] = [];
let dir: string | undefined;

afterAll(async () => {
  for (const hub of running) await hub.stop();
  if (dir) await removeDir(dir);
});

const LOOPS = 50;
/** Acknowledgements to wait for before the kill; the loops keep posting past it. */
const KILL_AFTER_ACKS = 2_000;

describe("SIGKILL under concurrent ingest", () => {
  it("loses no acknowledged event", async () => {
    dir = await makeTempDir();
    const first = await spawnHub({ dir });
    running.push(first);

    const acked: Array<{ id: string; seq: number; clientId?: string }> = [];
    let killed = false;
    let failures = 0;
    let onEnough!: () => void;
    const enough = new Promise<void>((resolve) => (onEnough = resolve));

    const loop = async (loopIndex: number) => {
      for (let i = 0; !killed; i++) {
        // Every third request names its own id; the rest get one from the hub. Some are batches.
        const batch = i % 5 === 4;
        const one = (k: number) =>
          i % 3 === 0
            ? { topic: `crash.t${loopIndex % 4}`, id: `c-${loopIndex}-${i}-${k}`, data: { loopIndex, i, k } }
            : { topic: `crash.t${loopIndex % 4}`, data: { loopIndex, i, k } };
        const body = batch ? [one(0), one(1), one(2)] : one(0);
        try {
          const res = await fetch(`${first.url}/api/events`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          const text = await res.text();
          if (res.status === 201) {
            const results = JSON.parse(text);
            for (const r of Array.isArray(results) ? results : [results]) acked.push(r);
            if (acked.length >= KILL_AFTER_ACKS) onEnough();
          } else failures++;
        } catch {
          return; // the hub is gone: this loop is done
        }
      }
    };
    const loops = Array.from({ length: LOOPS }, (_, i) => loop(i));

    await enough;
    first.kill("SIGKILL");
    killed = true;
    const exit = await first.exited;
    await Promise.all(loops);
    expect(exit.signal).toBe("SIGKILL");
    expect(failures).toBe(0);
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

    // Restart on the same file: every acknowledged id is there.
    const second = await spawnHub({ dir });
    running.push(second);
    const ids = acked.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);

    const missing: string[] = [];
    const queue = [...acked];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let a = queue.pop(); a; a = queue.pop()) {
          const reply = await request(`${second.url}/api/events/${encodeURIComponent(a.id)}`);
          if (reply.status !== 200 || reply.body.seq !== a.seq) missing.push(`${a.id}: ${reply.status}`);
        }
      }),
    );
    expect(missing).toEqual([]);

    // Whatever else was stored is whole: every stored event is one that was sent, and seqs are unique.
    const stored = await listAllEvents(second.url);
    expect(stored.length).toBeGreaterThanOrEqual(acked.length);
    expect(new Set(stored.map((e) => e.seq)).size).toBe(stored.length);
    for (const e of stored) expect(e.topic).toMatch(/^crash\.t[0-3]$/);

    // And the restarted hub takes new events with seqs after all of them.
    const maxSeq = Math.max(...stored.map((e) => e.seq));
    const next = await request(`${second.url}/api/events?topic=crash.t0`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"after":"restart"}',
    });
    expect(next.status).toBe(201);
    expect(next.body.seq).toBeGreaterThan(maxSeq);
  }, 60_000);
});
