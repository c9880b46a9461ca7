/**
 * What the PostgreSQL chaos tests share: a load of publishes that records every acknowledgement, a stream reader that
 * resumes with Last-Event-ID whenever its connection drops, and the checks made once the database is back.
 */
import { expect } from "vitest";
import { listAllEvents, postJson, request } from "../helpers/hub.js";
import type { Receiver } from "../helpers/receiver.js";
import { openSse, type SseConnection } from "../helpers/sse.js";
import { sleep } from "../helpers/webhooks.js";

/** How every publish of a {@link PublishLoad} was answered. */
export interface PublishTally {
  /** Ids of the events acknowledged with 201, in acknowledgement order. */
  acknowledged: string[];
  /** 503 replies, each checked for the catalog code and `Retry-After` as it arrived. */
  unavailable: number;
  /** Any other reply or failure, described: the tests expect none. */
  unexpected: string[];
  /** The longest a publish took, in ms (an upper bound the tests hold against the request timeout). */
  slowestMs: number;
}

/** Publishers posting one event at a time until stopped. */
export interface PublishLoad {
  readonly tally: PublishTally;
  /** Stops the publishers and resolves once each has its last answer. */
  stop(): Promise<PublishTally>;
}

/**
 * Starts `workers` publishers, each posting single events to `topic` one after the other until stopped. A 503 must
 * carry `SB_STORE_UNAVAILABLE` and a `Retry-After`; each publish is aborted after `abortAfterMs` (recorded as
 * unexpected: a hang).
 */
export function startPublishLoad(hubUrl: string, topic: string, workers = 8, abortAfterMs = 15_000): PublishLoad {
  const tally: PublishTally = { acknowledged: [], unavailable: 0, unexpected: [], slowestMs: 0 };
  let running = true;
  let n = 0;
  const worker = async (w: number) => {
    while (running) {
      const started = Date.now();
      try {
        const reply = await request(`${hubUrl}/api/events`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ topic, data: { w, n: n++ } }),
          signal: AbortSignal.timeout(abortAfterMs),
        });
        if (reply.status === 201) tally.acknowledged.push(reply.body.id);
        else if (reply.status === 503 && reply.body?.code === "SB_STORE_UNAVAILABLE" && Number(reply.headers.get("retry-after")) > 0) {
          tally.unavailable++;
          await sleep(20);
        } else tally.unexpected.push(`${reply.status} retry-after=${reply.headers.get("retry-after")} ${reply.text}`);
      } catch (error) {
        tally.unexpected.push(`publish failed: ${(error as Error).message}`);
      } finally {
        tally.slowestMs = Math.max(tally.slowestMs, Date.now() - started);
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    tally,
    async stop() {
      running = false;
      await done;
      return tally;
    },
  };
}

/** POSTs once per 100 ms until one is acknowledged; returns its id. */
export async function publishUntilAccepted(hubUrl: string, topic: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const reply = await postJson(`${hubUrl}/api/events`, { topic, data: { probe: true } }).catch((error: Error) => ({
      status: 0,
      text: error.message,
      body: undefined,
    }));
    if (reply.status === 201) return reply.body.id as string;
    last = `${reply.status} ${reply.text}`;
    await sleep(100);
  }
  throw new Error(`the hub did not accept a publish again within ${timeoutMs} ms; last reply: ${last}`);
}

/**
 * An SSE reader that reconnects with the last id it saw whenever the connection ends, as a browser's EventSource
 * does: the ids it collects are what a client following the stream gets.
 */
export class ResumingStream {
  readonly ids: string[] = [];
  /** Connections opened (1 + reconnects). */
  connections = 0;
  /** Replies other than 200 (status, Retry-After, body). */
  readonly refusals: string[] = [];
  private conn: SseConnection | undefined;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly hubUrl: string,
    private readonly path: string,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const last = this.ids.at(-1);
      const conn = openSse(this.hubUrl, this.path, { headers: last ? { "last-event-id": last } : {}, timeoutMs: 60_000 });
      this.conn = conn;
      this.connections++;
      let seen = 0;
      const take = () => {
        const events = conn.events();
        for (; seen < events.length; seen++) if (events[seen]!.id) this.ids.push(events[seen]!.id!);
      };
      conn.socket.on("data", () => setImmediate(take));
      // A refused stream (503 while the database is away) is an ordinary reply on a keep-alive connection: read it,
      // then close and try again as a client honouring Retry-After would.
      await Promise.race([
        conn.closed,
        conn.waitForHead().then(
          () => (conn.status === 200 ? conn.closed : conn.waitUntilBodyEnded()),
          () => undefined,
        ),
      ]);
      if (conn.status !== 0 && conn.status !== 200) this.refusals.push(`${conn.status} retry-after=${conn.headers["retry-after"]} ${conn.text}`);
      conn.close();
      take();
      if (!this.stopped) await sleep(100);
    }
  }

  /** Resolves once every id in `ids` has arrived. */
  async waitForAll(ids: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const have = new Set(this.ids);
      const missing = ids.filter((id) => !have.has(id));
      if (missing.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `the stream lacks ${missing.length} of ${ids.length} events after ${timeoutMs} ms (first: ${missing[0]}); connections ${this.connections}`,
        );
      await sleep(50);
    }
  }

  /** Drops the connection as a client whose network blinked would; the reader reconnects with Last-Event-ID. */
  reconnect(): void {
    this.conn?.close();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.conn?.close();
    await this.loop;
  }
}

/** Every id in `acknowledged` can be read back, by id and in the event list. */
export async function expectAllReadable(hubUrl: string, topic: string, acknowledged: readonly string[]): Promise<void> {
  const listed = new Set((await listAllEvents(hubUrl, { topic })).map((e) => e.id as string));
  const missing = acknowledged.filter((id) => !listed.has(id));
  expect(missing, `acknowledged but not listed (${missing.length} of ${acknowledged.length})`).toEqual([]);
  for (const id of [acknowledged[0], acknowledged.at(-1)]) {
    if (id === undefined) continue;
    const reply = await request(`${hubUrl}/api/events/${id}`);
    expect(reply.status, reply.text).toBe(200);
  }
}

/**
 * Waits until the receiver has had every event in `ids` (by `ce-id`) and returns how many webhook-ids arrived more
 * than once: each repeat is an attempt whose outcome could not be recorded before the database went away.
 */
export async function deliveredOnce(receiver: Receiver, ids: readonly string[], timeoutMs = 30_000): Promise<{ repeats: number }> {
  const wanted = new Set(ids);
  await receiver.waitUntil(
    `deliveries of all ${ids.length} acknowledged events`,
    (requests) => {
      const got = new Set(requests.map((r) => String(r.headers["ce-id"])));
      for (const id of wanted) if (!got.has(id)) return false;
      return true;
    },
    timeoutMs,
  );
  const seen = new Map<string, number>();
  for (const r of receiver.requests) {
    const id = String(r.headers["webhook-id"]);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  let repeats = 0;
  for (const count of seen.values()) repeats += count - 1;
  return { repeats };
}
