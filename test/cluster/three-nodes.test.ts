/**
 * Three hub processes on one PostgreSQL database. Under concurrent ingest through all three, the node delivering the
 * webhooks is SIGKILLed with attempts in flight (its subscription leases expire and the survivors take them over),
 * then the node that took them over is stopped with SIGTERM (it releases them) and started again. Every acknowledged
 * event is stored once and delivered at least once; the only duplicates are attempts the killed node had sent and
 * not recorded, and they carry the webhook-id of the first delivery. And a stream on one node sees, in order, what
 * the other two commit.
 * PostgreSQL is found at DATABASE_URL_TEST; when it cannot be reached, CI fails and a laptop skips with a note.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { LEASE_RENEW_MS, LEASE_TTL_MS } from "../../src/delivery/dispatcher.js";
import { eventually, listAllEvents, request } from "../helpers/hub.js";
import { ADMIN_URL, databaseUrl, describeWithPostgres } from "../helpers/postgres.js";
import { removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";
import { startReceiver, type ReceivedRequest, type Receiver } from "../helpers/receiver.js";
import { openLiveSse, type SseConnection } from "../helpers/sse.js";
import { createSubscription, eventIdOf, FAST_RETRY, publish, sleep } from "../helpers/webhooks.js";

await describeWithPostgres("three nodes", "runs three hub processes on one PostgreSQL database through a SIGKILL and a restart", defineThreeNodeTests);

/** Attempts in flight per subscription: the most the killed node can have sent and not recorded, per subscription. */
const MAX_IN_FLIGHT = 8;
/** The receiver answers after this long, so that attempts are in flight when the node is killed. */
const RECEIVER_DELAY_MS = 10;
/** Ingest loops per node; each posts one event or a batch of three, then pauses {@link PACE_MS}. */
const LOOPS_PER_NODE = 3;
/** Pause between one loop's requests: keeps the backlog the takeover leaves within what 2 cores deliver in seconds. */
const PACE_MS = 25;
/** Acknowledgements before the kill. */
const ACKS_BEFORE_KILL = 1_200;
/** Acknowledgements through the restarted node before ingest stops. */
const ACKS_AFTER_RESTART = 150;
/** Roughly one first attempt in this many is answered 500 (the retry then succeeds), to exercise retries too. */
const FAIL_ONE_IN = 25;

/** Subscriptions, created on the first node; each has its own path on the receiver. */
const SUBSCRIPTIONS = [
  { path: "all-1", topic: "tri.*" },
  { path: "all-2", topic: "tri.*" },
  { path: "t1", topic: "tri.t1" },
] as const;

function defineThreeNodeTests(): void {
  const dbName = `switchboard_three_${process.pid}`;
  const url = databaseUrl(dbName);
  let admin: pg.Client | undefined;
  let db: pg.Client | undefined;
  const spawned: SpawnedHub[] = [];
  const streams: SseConnection[] = [];
  let receiver: Receiver | undefined;
  /** Stops the ingest loops of a test that failed half-way. */
  let stopIngest: (() => Promise<void>) | undefined;

  const nodeEnv = (): Record<string, string> => ({
    DATABASE_URL: url,
    SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true",
    SWITCHBOARD_RATE_LIMIT_PUBLISH_PER_S: "0",
    SWITCHBOARD_RATE_LIMIT_API_PER_S: "0",
  });

  /** A hub process on the test database; a restart passes the first run's `dir` (unused by PostgreSQL, but removed after). */
  async function startNode(dir?: string): Promise<SpawnedHub> {
    const hub = await spawnHub({ env: nodeEnv(), dir });
    spawned.push(hub);
    return hub;
  }

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName} TEMPLATE template0 ENCODING 'UTF8'`);
    db = new pg.Client({ connectionString: url });
    await db.connect();
  });

  afterEach(async () => {
    await stopIngest?.();
    stopIngest = undefined;
    for (const conn of streams.splice(0)) conn.close();
    const hubs = spawned.splice(0);
    await Promise.all(hubs.map((hub) => hub.stop()));
    for (const dir of new Set(hubs.map((hub) => hub.dir))) await removeDir(dir);
    await receiver?.close();
    receiver = undefined;
  });

  afterAll(async () => {
    await db?.end().catch(() => {});
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
  });

  /** Every lease row: subscription id → holder and expiry. */
  async function leases(): Promise<Map<string, { node: string; expiresAt: number }>> {
    const { rows } = await db!.query<{ subscription_id: string; node_id: string; expires_at: string }>(
      "SELECT subscription_id, node_id, expires_at FROM subscription_leases",
    );
    return new Map(rows.map((r) => [r.subscription_id, { node: r.node_id, expiresAt: Number(r.expires_at) }]));
  }

  /** Webhook attempts this node made (delivered and failed), from its /metrics. */
  async function attemptsOf(hub: SpawnedHub): Promise<number> {
    const reply = await request(`${hub.url}/metrics`);
    return reply.text
      .split("\n")
      .filter((line) => line.startsWith("switchboard_delivery_attempts_total{"))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  }

  it("a stream on B gets the events posted to A and C at once, in seq order, each once", { timeout: 30_000 }, async () => {
    // Started at once on an empty database: the three race to migrate it.
    const [a, b, c] = await Promise.all([startNode(), startNode(), startNode()]);
    const onB = await openLiveSse(b.url, "/events?topic=sse3.*");
    streams.push(onB);

    const posted: Array<{ id: string; seq: number }> = [];
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all([
        publish(a.url, { topic: "sse3.a", data: { round } }),
        publish(
          c.url,
          [0, 1].map((k) => ({ topic: "sse3.c", data: { round, k } })),
        ),
        publish(
          a.url,
          [0, 1, 2].map((k) => ({ topic: "sse3.a", data: { round, k } })),
        ),
        publish(c.url, { topic: "sse3.c", data: { round } }),
      ]);
      posted.push(...replies.flat());
    }
    // A last event after every other was acknowledged: once B has it, B has had its chance to show all the others.
    const last = await publish(a.url, { topic: "sse3.a", data: { last: true } });
    posted.push(...last);
    const expected = [...posted].sort((x, y) => x.seq - y.seq).map((p) => p.id);
    expect(new Set(expected).size).toBe(71);

    await onB.waitFor("the last event", () => onB.events().some((f) => f.id === last[0]!.id), 15_000);
    expect(onB.events().map((f) => f.id)).toEqual(expected);
  });

  it(
    "SIGKILL of the delivering node and SIGTERM of its successor under ingest: acknowledged events stored once, delivered at least once",
    { timeout: 100_000 },
    async () => {
      const rx = (receiver = await startReceiver());
      // Roughly one first attempt in FAIL_ONE_IN fails (decided when the request arrives, by its webhook-id).
      const seenWebhookIds = new Set<string>();
      const failedOnPurpose = new Set<ReceivedRequest>();
      rx.respond((req) => {
        const webhookId = String(req.headers["webhook-id"]);
        const first = !seenWebhookIds.has(webhookId);
        seenWebhookIds.add(webhookId);
        if (first && hash(webhookId) % FAIL_ONE_IN === 0) {
          failedOnPurpose.add(req);
          return { status: 500 };
        }
        return { status: 200 };
      }, RECEIVER_DELAY_MS);

      // A alone creates the subscriptions, so A claims their leases and delivers them; then B and C join.
      const a = await startNode();
      const subs: Array<{ id: string; path: string; topic: string }> = [];
      for (const s of SUBSCRIPTIONS) {
        const sub = await createSubscription(a.url, {
          topic: s.topic,
          url: `${rx.url}/${s.path}`,
          retry: FAST_RETRY,
          ordering: "none",
          max_in_flight: MAX_IN_FLIGHT,
        });
        subs.push({ id: sub.id, path: `/hook/${s.path}`, topic: s.topic });
      }
      const held = await leases();
      const nodeA = held.get(subs[0]!.id)?.node;
      expect(nodeA).toBeDefined();
      for (const s of subs) expect(held.get(s.id)?.node, `lease of ${s.id}`).toBe(nodeA);
      const [b, c] = await Promise.all([startNode(), startNode()]);
      // For diagnostics: every change of a lease's holder, with its time.
      const t0 = Date.now();
      const leaseChanges: string[] = [];
      let watchingLeases = true;
      const leaseWatch = (async () => {
        const last = new Map<string, string>();
        while (watchingLeases) {
          const now = await leases().catch(() => new Map<string, { node: string; expiresAt: number }>());
          for (const s of subs) {
            const holder = now.get(s.id)?.node ?? "none";
            if (last.get(s.id) !== holder) leaseChanges.push(`${Date.now() - t0} ms ${s.path} → ${holder}`);
            last.set(s.id, holder);
          }
          await sleep(100);
        }
      })();

      // Ingest: LOOPS_PER_NODE loops per node, each sending its own event ids so that every outcome is exact.
      const nodes = new Map<string, SpawnedHub>([
        ["a", a],
        ["b", b],
        ["c", c],
      ]);
      const live = new Set(["a", "b", "c"]);
      const acked = new Map<string, { seq: number; via: string }>();
      /** No answer (connection reset, aborted): may or may not be stored. */
      const uncertain = new Map<string, string>();
      /** Answered with something other than 201, or refused at connect: must not be stored. */
      const refused = new Map<string, string>();
      const ackedVia = new Map<string, number>();
      let ingesting = true;
      const abort = new AbortController();

      const loop = async (home: string, index: number) => {
        for (let i = 0; ingesting; i++) {
          const names = [...live];
          const name = live.has(home) ? home : names[index % names.length];
          const hub = name === undefined ? undefined : nodes.get(name);
          if (!hub) {
            await sleep(PACE_MS);
            continue;
          }
          const events = (i % 4 === 3 ? [0, 1, 2] : [0]).map((k) => {
            const id = `tri-${home}${index}-${i}-${k}`;
            return { topic: `tri.t${(index + i + k) % 3}`, id, data: { id, i, k } };
          });
          const where = `${name} ${hub.url}`;
          try {
            const res = await fetch(`${hub.url}/api/events`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(events.length === 1 ? events[0] : events),
              signal: AbortSignal.any([abort.signal, AbortSignal.timeout(15_000)]),
            });
            const text = await res.text();
            if (res.status === 201) {
              const results = JSON.parse(text) as Array<{ id: string; seq: number }> | { id: string; seq: number };
              for (const r of Array.isArray(results) ? results : [results]) acked.set(r.id, { seq: r.seq, via: where });
              ackedVia.set(hub.url, (ackedVia.get(hub.url) ?? 0) + events.length);
            } else {
              for (const e of events) refused.set(e.id, `${where}: ${res.status} ${text.slice(0, 200)}`);
            }
          } catch (error) {
            const code = (error as { cause?: { code?: string } }).cause?.code;
            for (const e of events) (code === "ECONNREFUSED" ? refused : uncertain).set(e.id, `${where}: ${code ?? (error as Error).message}`);
          }
          await sleep(PACE_MS);
        }
      };
      const loops = [...nodes.keys()].flatMap((home) => Array.from({ length: LOOPS_PER_NODE }, (_, index) => loop(home, index)));
      const loopsDone = Promise.all(loops);
      // On failure: stop at once, abandoning the requests in flight.
      stopIngest = async () => {
        watchingLeases = false;
        await leaseWatch;
        ingesting = false;
        abort.abort();
        await loopsDone;
      };

      // 1. Kill A once it has delivered a good part of the events and has attempts in flight (requests the receiver
      // has not answered yet).
      await eventually("acknowledgements before the kill", () => (acked.size >= ACKS_BEFORE_KILL ? true : undefined), 30_000);
      await rx.waitFor(500, 30_000);
      await rx.waitUntil("attempts in flight", (reqs) => reqs.slice(-20).some((r) => r.answered === null && !failedOnPurpose.has(r)), 10_000);
      const killAt = Date.now();
      a.kill("SIGKILL");
      const unansweredAtKill = rx.requests.filter((r) => r.answered === null).length;
      const requestsBeforeKill = rx.requests.length;
      expect((await a.exited).signal).toBe("SIGKILL");
      live.delete("a");

      // 2. B and C take the leases over once A's expire.
      await eventually(
        "the survivors holding every lease",
        async () => {
          const now = await leases();
          return subs.every((s) => {
            const lease = now.get(s.id);
            return lease !== undefined && lease.node !== nodeA && lease.expiresAt > Date.now();
          })
            ? true
            : undefined;
        },
        LEASE_TTL_MS + LEASE_RENEW_MS + 5_000,
      );
      const takeoverMs = Date.now() - killAt;
      expect(takeoverMs).toBeLessThanOrEqual(LEASE_TTL_MS + LEASE_RENEW_MS + 1_000);

      // 3. SIGTERM a survivor that delivers (holds leases), while ingest goes on; it drains, records its attempts and
      // releases its leases, and the other survivor takes them over within a renewal. Then start it again. The holder
      // is the one working through the backlog the takeover found (any node may also take over a few overdue retries).
      const base = { b: await attemptsOf(b), c: await attemptsOf(c) };
      const [termName, stayName] = await eventually(
        "a survivor delivering the backlog",
        async () => ((await attemptsOf(b)) - base.b >= 100 ? ["b", "c"] : (await attemptsOf(c)) - base.c >= 100 ? ["c", "b"] : undefined),
        10_000,
      );
      const terminated = nodes.get(termName)!;
      const leasesBeforeTerm = await leases();
      const termAt = Date.now();
      terminated.kill("SIGTERM");
      const exit = await terminated.exited;
      const termExitedAt = Date.now();
      live.delete(termName);
      expect(exit, `SIGTERM exit; stderr: ${terminated.stderr.slice(-2_000)}`).toEqual({ code: 0, signal: null });
      const afterTerm = await leases();
      const released = subs.filter((s) => leasesBeforeTerm.get(s.id) && !afterTerm.has(s.id)).length;
      const restarted = await startNode(terminated.dir);
      nodes.set(termName, restarted);
      live.add(termName);
      await eventually(
        "every lease held again",
        async () => {
          const now = await leases();
          return subs.every((s) => (now.get(s.id)?.expiresAt ?? 0) > Date.now()) ? true : undefined;
        },
        LEASE_TTL_MS,
      );
      const handoverMs = Date.now() - termExitedAt;
      expect(handoverMs).toBeLessThan(LEASE_TTL_MS);

      // 4. Ingest through the restarted node too, then stop.
      await eventually(
        "acknowledgements through the restarted node",
        () => ((ackedVia.get(restarted.url) ?? 0) >= ACKS_AFTER_RESTART ? true : undefined),
        20_000,
      );
      // Every request in flight gets its answer.
      ingesting = false;
      await loopsDone;
      const ingestEndedAt = Date.now();

      // (1) Every acknowledged event is stored once, with its seq; nothing else is stored but what was in flight
      // when a node went away.
      const stored = (await listAllEvents(nodes.get(stayName)!.url)).filter((e) => e.topic.startsWith("tri."));
      const storedCount = new Map<string, number>();
      for (const e of stored) storedCount.set(e.id, (storedCount.get(e.id) ?? 0) + 1);
      expect(
        [...storedCount].filter(([, n]) => n !== 1),
        "events stored more than once",
      ).toEqual([]);
      expect(new Set(stored.map((e) => e.seq)).size).toBe(stored.length);
      const storedSeq = new Map(stored.map((e) => [e.id as string, e.seq as number]));
      const lost = [...acked]
        .filter(([id, a]) => storedSeq.get(id) !== a.seq)
        .map(([id, a]) => `${id} (seq ${a.seq} via ${a.via}): ${storedSeq.get(id) ?? "missing"}`);
      expect(lost, "acknowledged events missing or with another seq").toEqual([]);
      // Stored without an acknowledgement: only what was in flight to A when it was killed. (A node stopped with
      // SIGTERM answers every request it took.)
      const unexplained = stored
        .filter((e) => !acked.has(e.id) && !uncertain.get(e.id)?.includes(a.url))
        .map((e) => `${e.id}: ${uncertain.get(e.id) ?? refused.get(e.id) ?? "never sent"}`);
      expect(unexplained, "stored events not acknowledged, other than requests in flight at the kill").toEqual([]);
      // Only requests to the nodes that went away may have had no answer (or a refusal).
      const goneUrls = [a.url, terminated.url];
      const strayFailures = [...uncertain, ...refused].filter(([, why]) => !goneUrls.some((u) => why.includes(u)));
      expect(strayFailures, "requests to nodes that stayed up that failed").toEqual([]);
      const storedUnacked = stored.filter((e) => !acked.has(e.id)).length;

      // (2) Every stored event (acknowledged ones included) reaches every subscription it matches.
      const expected = new Map<string, Set<string>>(subs.map((s) => [s.path, new Set()]));
      for (const e of stored) {
        for (const s of subs) if (s.topic === "tri.*" || s.topic === e.topic) expected.get(s.path)!.add(e.id);
      }
      const got = new Map<string, Set<string>>(subs.map((s) => [s.path, new Set()]));
      let scanned = 0;
      const missingDeliveries = () => {
        for (; scanned < rx.requests.length; scanned++) {
          const r = rx.requests[scanned]!;
          if (!failedOnPurpose.has(r)) got.get(r.path)?.add(eventIdOf(r));
        }
        let missing = 0;
        for (const [path, ids] of expected) for (const id of ids) if (!got.get(path)!.has(id)) missing++;
        return missing;
      };
      try {
        await eventually("every stored event delivered to every subscription it matches", () => (missingDeliveries() === 0 ? true : undefined), 60_000);
      } catch (error) {
        throw new Error(`${(error as Error).message}; ${missingDeliveries()} (subscription, event) pairs never delivered`);
      }
      const deliveredAt = Date.now();
      // The hub agrees: no delivery is left open, none died.
      const open = await eventually(
        "no delivery left open",
        async () => {
          const { rows } = await db!.query<{ status: string; n: string }>(
            "SELECT status, count(*) AS n FROM deliveries WHERE subscription_id = ANY($1::text[]) GROUP BY status",
            [subs.map((s) => s.id)],
          );
          const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
          return (by.pending ?? 0) + (by.retrying ?? 0) === 0 ? by : undefined;
        },
        10_000,
      );
      expect(open.dead ?? 0).toBe(0);
      expect(open.delivered).toBe([...expected.values()].reduce((n, ids) => n + ids.size, 0));

      // (3) One webhook-id per (subscription, event), on retries and duplicates alike; duplicates only from attempts
      // the killed node had made before its death, and no more than it could have had in flight and unrecorded.
      const byPair = new Map<string, ReceivedRequest[]>();
      const wrongBodies: string[] = [];
      for (const r of rx.requests) {
        const key = `${r.path} ${eventIdOf(r)}`;
        const list = byPair.get(key);
        if (list) list.push(r);
        else byPair.set(key, [r]);
        if (JSON.parse(r.body).id !== eventIdOf(r)) wrongBodies.push(`${key}: ${r.body.slice(0, 200)}`);
      }
      expect(wrongBodies, "requests whose body is not their event's data").toEqual([]);
      const webhookIdOwners = new Map<string, string>();
      let duplicates = 0;
      let killDuplicates = 0;
      const duplicatedLate: string[] = [];
      for (const [key, reqs] of byPair) {
        const ids = new Set(reqs.map((r) => String(r.headers["webhook-id"])));
        expect([...ids], `webhook-ids of ${key}`).toHaveLength(1);
        const [webhookId] = ids;
        expect(webhookIdOwners.get(webhookId!), `webhook-id ${webhookId} used for two pairs`).toBeUndefined();
        webhookIdOwners.set(webhookId!, key);
        const receptions = reqs.filter((r) => !failedOnPurpose.has(r));
        if (receptions.length > 1) {
          duplicates += receptions.length - 1;
          // The first reception came from the killed node: it was sent before the kill (and its outcome not recorded).
          if (receptions[0]!.receivedAt <= killAt + 1_000) killDuplicates += receptions.length - 1;
          else {
            const { rows } = await db!.query<{ attempted_at: string; status_code: number | null; error: string | null }>(
              "SELECT attempted_at, status_code, error FROM attempts WHERE delivery_id = $1 ORDER BY id",
              [webhookId],
            );
            duplicatedLate.push(
              `${key} (${webhookId}): received ${reqs.map((r) => `+${r.receivedAt - killAt} ms → ${failedOnPurpose.has(r) ? "500 on purpose" : r.answered}`).join(", ")}; ` +
                `attempts recorded ${rows.map((r) => `+${Number(r.attempted_at) - killAt} ms ${r.status_code ?? r.error}`).join(", ")}`,
            );
          }
        }
      }
      watchingLeases = false;
      await leaseWatch;
      const logs = [...spawned]
        .map(
          (hub) =>
            `${hub.url} pid ${hub.process.pid} ${hub === a ? "A" : hub === b ? "B" : hub === c ? "C" : "restarted"}: ${hub.stdout.trim().split("\n").slice(-15).join("\n  ")}`,
        )
        .join("\n");
      expect(
        duplicatedLate.length === 0
          ? []
          : [
              ...duplicatedLate.slice(0, 10),
              `${duplicatedLate.length} in all`,
              `node logs:\n${logs}`,
              `lease holders (from the start of ingest; killed at ${killAt - t0} ms):\n${leaseChanges.join("\n")}`,
            ],
        `duplicates not explained by the kill (times from the SIGKILL; leases taken over at +${takeoverMs} ms, SIGTERM of ${termName} ` +
          `at +${termAt - killAt} ms, exited at +${termExitedAt - killAt} ms, ${released} lease(s) released)`,
      ).toEqual([]);
      const firstAfterKill = rx.requests.find((r, i) => i >= requestsBeforeKill && r.receivedAt > killAt + 100)?.receivedAt;

      console.log(
        `three nodes: ${acked.size} events acknowledged (${storedUnacked} more stored from requests without an answer; ` +
          `${uncertain.size} without an answer, ${refused.size} refused), ${rx.requests.length} webhook requests, ` +
          `${failedOnPurpose.size} failed on purpose; ${unansweredAtKill} unanswered at the kill, ${duplicates} duplicates ` +
          `(${killDuplicates} of attempts made before the kill); lease takeover ${takeoverMs} ms after the SIGKILL, ` +
          `first webhook request after it at ${firstAfterKill === undefined ? "?" : firstAfterKill - killAt} ms; ` +
          `SIGTERM of ${termName} released ${released} lease(s), held again after ${handoverMs} ms; ` +
          `all delivered ${deliveredAt - ingestEndedAt} ms after ingest stopped`,
      );
      // In flight at the kill: at most MAX_IN_FLIGHT per subscription; answered but not yet recorded (the recorder
      // commits once per tick): a few more. Twice the in-flight cap leaves room for the latter.
      expect(killDuplicates).toBeLessThanOrEqual(2 * MAX_IN_FLIGHT * subs.length);
    },
  );
}

/** A small deterministic string hash (FNV-1a). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
