import { expect } from "vitest";
import { eventually, postJson } from "./hub.js";
import { makeTempDir, removeDir, spawnHub, type SpawnedHub } from "./process.js";
import { publishMany } from "./webhooks.js";

/** How many events each SIGKILL scenario publishes: enough that the kill lands mid-flight. */
export const CRASH_EVENTS = 2000;
const ENV = { SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true" };

/** The broker side of a crash scenario, read with that broker's own client. */
export interface CrashSink {
  /** The subscription url publishing into the sink. */
  url: string;
  /**
   * Every copy the broker handed on so far, resends included: for each event id (`ce-id`), the message ids the
   * copies carried, one entry per copy.
   */
  copies(): Promise<Map<string, string[]>> | Map<string, string[]>;
}

/** What a crash scenario saw, for the assertions that differ per broker. */
export interface CrashOutcome {
  /** The event ids published. */
  want: Set<string>;
  /** `sink.copies()` once every event had arrived. */
  byEvent: Map<string, string[]>;
  /** All copies, resends included. */
  total: number;
}

/** Crashes {@link crashUntilResent} tries at most; a test using it allows this many times one crash's time. */
export const MAX_CRASHES = 3;

/**
 * Runs `crash` (a {@link sigkillMidFlight} on a fresh sink, answering how many copies were resends) until one shows a
 * resend, at most {@link MAX_CRASHES} times; answers the last count. A kill that lands when every send was already
 * recorded as delivered leaves nothing to resend: that run is still at-least-once (checked by sigkillMidFlight), but
 * has no resend for the caller to check, so the crash is tried again.
 */
export async function crashUntilResent(crash: () => Promise<number>): Promise<number> {
  let resent = 0;
  for (let tried = 0; tried < MAX_CRASHES && resent === 0; tried++) resent = await crash();
  return resent;
}

const countCopies = (byEvent: Map<string, string[]>) => [...byEvent.values()].reduce((n, ids) => n + ids.length, 0);

/**
 * SIGKILL of the hub mid-flight, then a restart on the same data directory: publishes {@link CRASH_EVENTS} events to
 * a subscription on `sink.url` (`max_in_flight` 8), kills the hub once 100 copies arrived, starts another, and waits
 * for every event. Asserts at-least-once (every event arrived, none unknown) and that all copies of an event carry
 * the same message id; the caller asserts what its broker does with the resends.
 */
export async function sigkillMidFlight(topic: string, sink: CrashSink): Promise<CrashOutcome> {
  const dir = await makeTempDir();
  const hubs: SpawnedHub[] = [];
  try {
    const first = await spawnHub({ dir, env: ENV });
    hubs.push(first);
    const created = await postJson(`${first.url}/api/subscriptions`, { topic, url: sink.url, max_in_flight: 8 });
    expect(created.status, created.text).toBe(201);
    const posted = await publishMany(first.url, topic, CRASH_EVENTS, (i) => ({ i }));

    await eventually("some messages published", async () => (countCopies(await sink.copies()) >= 100 ? true : undefined), 30_000);
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(countCopies(await sink.copies())).toBeLessThan(CRASH_EVENTS);

    hubs.push(await spawnHub({ dir, env: ENV }));
    const want = new Set(posted.map((p) => p.id));
    const byEvent = await eventually(
      `all ${CRASH_EVENTS} events published`,
      async () => {
        const seen = await sink.copies();
        return [...want].every((id) => seen.has(id)) ? seen : undefined;
      },
      60_000,
    );
    expect(new Set(byEvent.keys())).toEqual(want);
    const split = [...byEvent].filter(([, ids]) => new Set(ids).size !== 1).map(([event, ids]) => `${event}: ${ids.join(", ")}`);
    expect(split).toEqual([]);
    return { want, byEvent, total: countCopies(byEvent) };
  } finally {
    for (const hub of hubs) await hub.stop();
    await removeDir(dir);
  }
}
