import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, metricValue, postJson, request, startTestHub, type TestHub } from "../helpers/hub.js";
import { openLiveSse, openSse, type SseConnection } from "../helpers/sse.js";

let hub: TestHub;
const open: SseConnection[] = [];

beforeAll(async () => {
  hub = await startTestHub();
});
afterEach(async () => {
  for (const conn of open.splice(0)) {
    conn.close();
    await conn.closed;
  }
});
afterAll(() => hub.close());

const OPENING = "retry: 2000\n: connected\n\n";

function track(conn: SseConnection): SseConnection {
  open.push(conn);
  return conn;
}

interface Published {
  id: string;
  seq: number;
  text: string;
}

async function publishMany(topic: string, count: number, from = 0): Promise<Published[]> {
  const items = Array.from({ length: count }, (_, i) => ({ n: from + i }));
  const reply = await postJson(`${hub.url}/api/events?topic=${topic}`, items);
  expect(reply.status, reply.text).toBe(201);
  return reply.body.map((r: { id: string; seq: number }, i: number) => ({ ...r, text: JSON.stringify(items[i]) }));
}

function framesOf(events: Published[]): string {
  return events.map((e) => `id: ${e.id}\ndata: ${e.text}\n\n`).join("");
}

/** The `switchboard.reset` frame a stream resuming from `lastEventId` gets when that id is not a resume point. */
function resetFrame(lastEventId: string, oldestId: string | null): string {
  const details = `event ${JSON.stringify(lastEventId)} is not a stored event of this stream's topics (it may have been removed by retention); events after it may have been missed. Streaming live events from now.`;
  return `event: switchboard.reset\ndata: ${JSON.stringify({ code: "SB_STREAM_RESUME_UNKNOWN", details, last_event_id: lastEventId, oldest_id: oldestId })}\n\n`;
}

describe("resuming with Last-Event-ID", () => {
  it("replays stored events after the header's id, then continues live", async () => {
    const stored = await publishMany("resume.header", 5);
    const conn = track(openSse(hub.url, "/events?topic=resume.header", { headers: { "last-event-id": stored[1]!.id } }));
    await conn.waitForEvents(3);
    expect(conn.status).toBe(200);
    expect(conn.text).toBe(OPENING + framesOf(stored.slice(2)));
    const later = await publishMany("resume.header", 2, 5);
    await conn.waitForEvents(5);
    expect(conn.text).toBe(OPENING + framesOf([...stored.slice(2), ...later]));
  });

  it("takes ?last_event_id= as well", async () => {
    const stored = await publishMany("resume.query", 4);
    const conn = track(openSse(hub.url, `/events?topic=resume.query&last_event_id=${stored[0]!.id}`));
    await conn.waitForEvents(3);
    const later = await publishMany("resume.query", 1, 4);
    await conn.waitForEvents(4);
    expect(conn.text).toBe(OPENING + framesOf([...stored.slice(1), ...later]));
  });

  it("replays nothing when resuming from the newest event, and goes live", async () => {
    const stored = await publishMany("resume.newest", 3);
    const conn = track(await openLiveSse(hub.url, "/events?topic=resume.newest", { headers: { "last-event-id": stored[2]!.id } }));
    const later = await publishMany("resume.newest", 1, 3);
    await conn.waitForEvents(1);
    expect(conn.text).toBe(OPENING + framesOf(later));
  });

  it("replays only the selected topics and filter", async () => {
    const a = await publishMany("resume.sel-a", 3);
    await publishMany("resume.sel-b", 3);
    const a2 = await publishMany("resume.sel-a", 3, 3);
    const conn = track(
      openSse(hub.url, `/events?topic=resume.sel-a&filter=${encodeURIComponent("int(data.n) % 2 == 1")}`, {
        headers: { "last-event-id": a[0]!.id },
      }),
    );
    await conn.waitForEvents(3);
    expect(conn.text).toBe(OPENING + framesOf([a[1]!, a2[0]!, a2[2]!]));
  });

  it("replays the envelope with envelope=true", async () => {
    const stored = await publishMany("resume.env", 2);
    const conn = track(openSse(hub.url, "/api/topics/resume.env/stream?envelope=true", { headers: { "last-event-id": stored[0]!.id } }));
    const [frame] = await conn.waitForEvents(1);
    expect(frame!.id).toBe(stored[1]!.id);
    expect(JSON.parse(frame!.data!)).toMatchObject({ id: stored[1]!.id, seq: stored[1]!.seq, topic: "resume.env", data: { n: 1 } });
  });

  it("signals an unknown id with an event: switchboard.reset frame, then streams live", async () => {
    const first = await publishMany("resume.unknown", 1);
    const conn = track(openSse(hub.url, "/events?topic=resume.unknown", { headers: { "last-event-id": "evt_gone-long-ago" } }));
    const [reset] = await conn.waitForEvents(1);
    expect(reset!.event).toBe("switchboard.reset");
    expect(reset!.id).toBeUndefined();
    expect(conn.text).toBe(`${OPENING}event: switchboard.reset\ndata: ${reset!.data}\n\n`);
    const signal = JSON.parse(reset!.data!);
    expect(signal).toEqual({
      code: "SB_STREAM_RESUME_UNKNOWN",
      details: expect.stringContaining("evt_gone-long-ago"),
      last_event_id: "evt_gone-long-ago",
      // The oldest stored event of the stream's own topics, not of the whole store.
      oldest_id: first[0]!.id,
    });
    expect((await request(`${hub.url}/api/events/${signal.oldest_id}`)).status).toBe(200);
    // Nothing stored before the reset is replayed; what comes next is live.
    expect(conn.events().map((f) => f.id)).not.toContain(first[0]!.id);
    const later = await publishMany("resume.unknown", 1, 1);
    await conn.waitForEvents(2);
    expect(conn.text).toBe(`${OPENING}event: switchboard.reset\ndata: ${reset!.data}\n\n${framesOf(later)}`);
  });

  it("treats an id of another topic exactly as an unknown id, and names no id outside the stream's topics", async () => {
    const foreign = await publishMany("resume.foreign", 2);
    const own = await publishMany("resume.own", 2);
    const outside = track(openSse(hub.url, "/events?topic=resume.own", { headers: { "last-event-id": foreign[0]!.id } }));
    const unknown = track(openSse(hub.url, "/events?topic=resume.own", { headers: { "last-event-id": "evt_never-stored" } }));
    await outside.waitForEvents(1);
    await unknown.waitForEvents(1);
    // Not a replay of resume.own after the foreign id: the same reset an unknown id gets, naming the oldest event of
    // resume.own (the store's oldest is of another topic).
    expect(outside.text).toBe(OPENING + resetFrame(foreign[0]!.id, own[0]!.id));
    expect(unknown.text).toBe(OPENING + resetFrame("evt_never-stored", own[0]!.id));
    const later = await publishMany("resume.own", 1, 2);
    await outside.waitForEvents(2);
    await unknown.waitForEvents(2);
    expect(outside.text).toBe(OPENING + resetFrame(foreign[0]!.id, own[0]!.id) + framesOf(later));
    expect(unknown.text).toBe(OPENING + resetFrame("evt_never-stored", own[0]!.id) + framesOf(later));
  });

  it("on a topic's stream path, answers an id of another topic with a reset naming no id when the topic has none", async () => {
    const foreign = await publishMany("resume.elsewhere", 1);
    const conn = track(openSse(hub.url, "/api/topics/resume.nothing-yet/stream", { headers: { "last-event-id": foreign[0]!.id } }));
    await conn.waitForEvents(1);
    expect(conn.text).toBe(OPENING + resetFrame(foreign[0]!.id, null));
    const later = await publishMany("resume.nothing-yet", 1);
    await conn.waitForEvents(2);
    expect(conn.text).toBe(OPENING + resetFrame(foreign[0]!.id, null) + framesOf(later));
  });

  it("with a pattern, resumes from an id of a topic the pattern matches and not from one its prefix only shares", async () => {
    const deeper = await publishMany("resume.pat.a.deep", 1); // under the prefix resume.pat. but not matched by resume.pat.*
    const a = await publishMany("resume.pat.a", 2);
    const b = await publishMany("resume.pat.b", 2);
    const inside = track(openSse(hub.url, "/events?topic=resume.pat.*", { headers: { "last-event-id": a[0]!.id } }));
    await inside.waitForEvents(3);
    expect(inside.text).toBe(OPENING + framesOf([a[1]!, ...b]));
    const outside = track(openSse(hub.url, "/events?topic=resume.pat.*", { headers: { "last-event-id": deeper[0]!.id } }));
    await outside.waitForEvents(1);
    expect(outside.text).toBe(OPENING + resetFrame(deeper[0]!.id, a[0]!.id));
  });

  it("resumes from an id of its topics that its filter does not select (the topics decide, not the filter)", async () => {
    const stored = await publishMany("resume.filtered", 4);
    const conn = track(
      openSse(hub.url, `/events?topic=resume.filtered&filter=${encodeURIComponent("int(data.n) % 2 == 1")}`, {
        headers: { "last-event-id": stored[0]!.id },
      }),
    );
    await conn.waitForEvents(2);
    expect(conn.text).toBe(OPENING + framesOf([stored[1]!, stored[3]!]));
  });

  it("refuses an id with a line break", async () => {
    const conn = track(openSse(hub.url, `/events?last_event_id=${encodeURIComponent("a\nb")}`));
    await conn.waitForHead();
    expect(conn.status).toBe(400);
  });
});

/**
 * Resumes streams while writers publish concurrently, and checks that each gets exactly the events after its
 * resume point, in order: no gap, no duplicate, whatever the moment of the switch from replay to live.
 */
async function checkSwitchOver(target: TestHub, topic: string, options: { stored: number; padBytes: number; writers: number; perWriter: number }) {
  const pad = "x".repeat(options.padBytes);
  const post = (items: object[]) => postJson(`${target.url}/api/events?topic=${topic}`, items.length === 1 ? items[0] : items);
  const published: Published[] = [];
  for (let b = 0; b < options.stored; b += 100) {
    const items = Array.from({ length: Math.min(100, options.stored - b) }, (_, i) => ({ n: b + i, pad }));
    const reply = await post(items);
    if (reply.status !== 201) throw new Error(reply.text);
    reply.body.forEach((r: { id: string; seq: number }, i: number) => published.push({ ...r, text: JSON.stringify(items[i]) }));
  }

  let n = options.stored;
  const writers = Array.from({ length: options.writers }, async () => {
    for (let i = 0; i < options.perWriter; i++) {
      const item = { n: n++, pad };
      const reply = await post([item]);
      if (reply.status !== 201) throw new Error(reply.text);
      published.push({ ...reply.body, text: JSON.stringify(item) });
    }
  });

  // Resuming streams connect while the writers run, each from an event acknowledged by then.
  const resumers: Array<{ conn: SseConnection; afterSeq: number }> = [];
  const resumeFrom = (p: Published, viaQuery: boolean) => {
    const path = viaQuery ? `/events?topic=${topic}&last_event_id=${p.id}` : `/events?topic=${topic}`;
    const conn = track(openSse(target.url, path, viaQuery ? {} : { headers: { "last-event-id": p.id } }));
    resumers.push({ conn, afterSeq: p.seq });
  };
  resumeFrom(published[10]!, false); // the longest replay
  resumeFrom(published[Math.floor(options.stored / 2)]!, true);
  for (let i = 0; i < 18; i++) {
    await new Promise((r) => setTimeout(r, 10));
    resumeFrom(published[published.length - 1 - (i % 3)]!, i % 2 === 0);
  }
  await Promise.all(writers);

  const all = [...published].sort((a, b) => a.seq - b.seq);
  expect(new Set(all.map((p) => p.seq)).size).toBe(options.stored + options.writers * options.perWriter);
  for (const { conn, afterSeq } of resumers) {
    await conn.waitForEvents(all.filter((p) => p.seq > afterSeq).length, 20_000);
  }
  // A marker after everything: whatever a stream holds before it is all it will ever get.
  const marker = await post([{ n: -1, pad }]);
  const markerEvent: Published = { ...marker.body, text: JSON.stringify({ n: -1, pad }) };
  for (const { conn, afterSeq } of resumers) {
    const expected = [...all.filter((p) => p.seq > afterSeq), markerEvent];
    await conn.waitForEvents(expected.length);
    expect(conn.events().map((f) => f.id)).toEqual(expected.map((p) => p.id));
    expect(conn.text).toBe(OPENING + framesOf(expected));
  }
}

describe("the switch from replay to live", () => {
  it("has no gap and no duplicate while events are published concurrently", async () => {
    await checkSwitchOver(hub, "resume.race", { stored: 1200, padBytes: 0, writers: 8, perWriter: 60 });
  });

  it("has no gap and no duplicate when the replay waits for a slow socket, and the stream is not closed as slow", async () => {
    // A small buffer limit and big events: each replay page overfills the socket, so the replay pauses for it
    // to drain while live events arrive.
    const small = await startTestHub({ sseMaxBufferedBytes: 4096 });
    try {
      await checkSwitchOver(small, "resume.paced", { stored: 700, padBytes: 3000, writers: 4, perWriter: 40 });
      const metrics = await request(`${small.url}/metrics`);
      expect(metricValue(metrics.text, "switchboard_streams_closed_slow_total")).toBe(0);
    } finally {
      for (const conn of open.splice(0)) {
        conn.close();
        await conn.closed;
      }
      await small.close();
    }
  });
});

describe("a replay paced by its reader", () => {
  it("is not closed as slow when a live event arrives while the replayed bytes still wait in the socket", async () => {
    const small = await startTestHub({ sseMaxBufferedBytes: 4096 });
    const conns: SseConnection[] = [];
    try {
      const url = `${small.url}/api/events?topic=paced.burst`;
      // ~12 MB in one store page: more than the kernel's socket buffers hold.
      const pad = "y".repeat(25_000);
      const stored: Published[] = [];
      for (let b = 0; b < 480; b += 30) {
        const items = Array.from({ length: 30 }, (_, i) => ({ n: b + i, pad }));
        const reply = await postJson(url, items);
        expect(reply.status).toBe(201);
        reply.body.forEach((r: { id: string; seq: number }, i: number) => stored.push({ ...r, text: JSON.stringify(items[i]) }));
      }
      const sentBefore = metricValue((await request(`${small.url}/metrics`)).text, "switchboard_stream_frames_sent_total")!;

      // The reader resumes from the first event, then does not read while the whole replay is written: much of it
      // waits in the hub's socket buffer, far past the 4 KiB limit.
      const conn = openSse(small.url, "/events?topic=paced.burst", { headers: { "last-event-id": stored[0]!.id } });
      conns.push(conn);
      conn.pause();
      await eventually("the replay to be written", async () => {
        const sent = metricValue((await request(`${small.url}/metrics`)).text, "switchboard_stream_frames_sent_total")!;
        return sent - sentBefore >= stored.length - 1 ? true : undefined;
      });
      const live = await postJson(url, { n: 480, pad });
      expect(live.status).toBe(201);
      conn.socket.resume();

      const expected = [...stored.slice(1), { ...live.body, text: JSON.stringify({ n: 480, pad }) }];
      await conn.waitForEvents(expected.length, 20_000);
      const after = await postJson(url, { n: 401 });
      await conn.waitForEvents(expected.length + 1);
      expect(conn.text).toBe(OPENING + framesOf([...expected, { ...after.body, text: '{"n":401}' }]));
      expect(metricValue((await request(`${small.url}/metrics`)).text, "switchboard_streams_closed_slow_total")).toBe(0);
    } finally {
      for (const conn of conns) {
        conn.close();
        await conn.closed;
      }
      await small.close();
    }
  });
});
