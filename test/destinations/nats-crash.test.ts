import type { Subscription as NatsSubscription } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, postJson } from "../helpers/hub.js";
import { createTestStream, NATS_PORT, type TestStream } from "../helpers/nats.js";
import { makeTempDir, removeDir, spawnHub, type SpawnedHub } from "../helpers/process.js";
import { publishMany } from "../helpers/webhooks.js";

const running: SpawnedHub[] = [];
let stream: TestStream | undefined;
let tap: NatsSubscription | undefined;
let dir: string | undefined;

afterAll(async () => {
  for (const hub of running) await hub.stop();
  tap?.unsubscribe();
  await stream?.close();
  if (dir) await removeDir(dir);
});

const EVENTS = 2000;
const ENV = { SWITCHBOARD_ALLOW_PRIVATE_TARGETS: "true" };

describe("SIGKILL mid-flight to NATS JetStream", () => {
  it("every event is stored once; a resend carries the same Nats-Msg-Id", { timeout: 90_000 }, async () => {
    dir = await makeTempDir();
    stream = await createTestStream();
    // A core subscription on the subject sees every publish, resends included (JetStream drops those by id).
    const published = new Map<string, Set<string>>();
    let seen = 0;
    tap = stream.nc.subscribe(stream.subject, {
      callback: (_err, msg) => {
        seen++;
        const eventId = msg.headers?.get("ce-id") ?? "";
        const ids = published.get(eventId) ?? new Set<string>();
        ids.add(msg.headers?.get("Nats-Msg-Id") ?? "");
        published.set(eventId, ids);
      },
    });

    const first = await spawnHub({ dir, env: ENV });
    running.push(first);
    const topic = "crash.nats";
    const created = await postJson(`${first.url}/api/subscriptions`, { topic, url: `nats://127.0.0.1:${NATS_PORT}/${stream.subject}`, max_in_flight: 8 });
    expect(created.status, created.text).toBe(201);
    const posted = await publishMany(first.url, topic, EVENTS, (i) => ({ i }));

    await eventually("some messages published", () => (seen >= 100 ? true : undefined), 30_000);
    first.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(seen).toBeLessThan(EVENTS);

    const second = await spawnHub({ dir, env: ENV });
    running.push(second);
    const want = new Set(posted.map((p) => p.id));
    await eventually(`all ${EVENTS} events published`, () => ([...want].every((id) => published.has(id)) ? true : undefined), 60_000);
    // JetStream stored each event once: resends within the duplicate window were dropped by Nats-Msg-Id.
    await eventually("the stream holds every event", async () =>
      (await stream!.nc.jetstreamManager()).streams.info(stream!.name).then((i) => (i.state.messages >= EVENTS ? true : undefined)),
    );
    const info = await (await stream.nc.jetstreamManager()).streams.info(stream.name);
    expect(info.state.messages).toBe(EVENTS);
    expect(new Set(published.keys())).toEqual(want);
    const split = [...published].filter(([, ids]) => ids.size !== 1).map(([event, ids]) => `${event}: ${[...ids].join(", ")}`);
    expect(split).toEqual([]);
    // Publishes in flight (or not yet recorded) when the hub died were sent again: the checks above had resends to
    // look at, and the stream count shows JetStream dropped them.
    expect(seen).toBeGreaterThan(EVENTS);
  });
});
