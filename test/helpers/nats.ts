import { randomBytes } from "node:crypto";
import { AckPolicy, connect, type JsMsg, type NatsConnection } from "nats";

/** The shared NATS server with JetStream (`.ci/run` starts it). */
export const NATS_PORT = 4222;
export const NATS_URL = `127.0.0.1:${NATS_PORT}`;

/** A uniquely named stream on its own subject, with a consumer that reads it back; `close()` deletes it. */
export interface TestStream {
  name: string;
  /** The subject the stream covers (publish here). */
  subject: string;
  nc: NatsConnection;
  /** Every message in the stream, in stream order, read from the start. */
  messages(): Promise<JsMsg[]>;
  close(): Promise<void>;
}

/** A fresh name suffix for streams and subjects. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/**
 * Creates a stream `name` covering `subject` (default a unique one) on the shared server.
 * @example const stream = await createTestStream(); afterAll(() => stream.close());
 */
export async function createTestStream(options: { subject?: string; duplicateWindowMs?: number } = {}): Promise<TestStream> {
  const name = uniqueName("SBTEST").toUpperCase();
  const subject = options.subject ?? `sbtest.${name.toLowerCase()}`;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name, subjects: [subject], duplicate_window: (options.duplicateWindowMs ?? 120_000) * 1_000_000 });
  return {
    name,
    subject,
    nc,
    async messages() {
      const info = await jsm.streams.info(name);
      const total = info.state.messages;
      if (total === 0) return [];
      const consumer = uniqueName("c");
      await jsm.consumers.add(name, { durable_name: consumer, ack_policy: AckPolicy.None });
      const js = nc.jetstream();
      const c = await js.consumers.get(name, consumer);
      const out: JsMsg[] = [];
      const batch = await c.fetch({ max_messages: total, expires: 2_000 });
      for await (const m of batch) {
        out.push(m);
        if (out.length >= total) break;
      }
      await jsm.consumers.delete(name, consumer);
      return out;
    },
    async close() {
      await jsm.streams.delete(name).catch(() => undefined);
      await nc.close();
    },
  };
}
