import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { freePort } from "./process.js";

/** The shared Mosquitto (`.ci/run` starts it): anonymous, MQTT 5 and 3.1.1. */
export const MQTT_PORT = 1883;

/** A unique topic under `sbtest/`, so that tests sharing the broker never see each other's messages. */
export function uniqueTopic(prefix: string): string {
  return `sbtest/${prefix}_${randomBytes(5).toString("hex")}`;
}

/** One message as a subscriber received it: body, MQTT 5 user properties (names lowercased), the packet. */
export interface ReceivedMessage {
  body: string;
  properties: Record<string, string>;
  packet: IPublishPacket;
}

/** A QoS 1 subscriber on one topic that keeps what arrives, in arrival order; `close()` disconnects it. */
export interface TestTopic {
  topic: string;
  client: MqttClient;
  received: ReceivedMessage[];
  close(): Promise<void>;
}

/**
 * Subscribes (QoS 1, MQTT 5 unless told) to a fresh topic on the shared broker. MQTT keeps nothing for absent
 * subscribers, so the subscription is in place before this resolves: publish after it.
 * @example const t = await subscribeTestTopic(); afterAll(() => t.close());
 */
export async function subscribeTestTopic(options: { topic?: string; port?: number; client?: IClientOptions } = {}): Promise<TestTopic> {
  const topic = options.topic ?? uniqueTopic("t");
  const client = await connectAsync({ host: "127.0.0.1", port: options.port ?? MQTT_PORT, protocolVersion: 5, reconnectPeriod: 0, ...options.client });
  const received: ReceivedMessage[] = [];
  client.on("message", (_topic, payload, packet) => {
    const properties: Record<string, string> = {};
    for (const [name, value] of Object.entries(packet.properties?.userProperties ?? {})) {
      properties[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
    }
    received.push({ body: payload.toString("utf8"), properties, packet });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return { topic, client, received, close: () => client.endAsync() };
}

/** A Mosquitto of a test's own, on a free loopback port. */
export interface PrivateBroker {
  port: number;
  /** The only user let in (no anonymous clients), when started with `auth`. */
  user: string;
  password: string;
  stop(): Promise<void>;
}

/**
 * Starts a private Mosquitto: with `auth`, a password file and no anonymous clients (the shared one lets anyone
 * in); with `tls`, a TLS listener whose certificate is self-signed for 127.0.0.1.
 * @example const broker = await startPrivateBroker({ auth: true }); afterAll(() => broker.stop());
 */
export async function startPrivateBroker(options: { auth?: boolean; tls?: boolean }): Promise<PrivateBroker> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-mosquitto-"));
  await chmod(dir, 0o755); // Mosquitto started as root reads its files as the mosquitto user.
  const user = "app";
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const port = await freePort();
  const lines = [`listener ${port} 127.0.0.1`, "persistence false"];
  let child: ChildProcess | undefined;
  try {
    if (options.auth) {
      const passwordFile = join(dir, "passwd");
      await writeFile(passwordFile, "", { mode: 0o644 });
      await run("mosquitto_passwd", ["-b", passwordFile, user, password]);
      await chmod(passwordFile, 0o644);
      lines.push("allow_anonymous false", `password_file ${passwordFile}`);
    } else lines.push("allow_anonymous true");
    if (options.tls) {
      const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
      await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert]);
      await chmod(key, 0o644);
      lines.push(`certfile ${cert}`, `keyfile ${key}`);
    }
    const config = join(dir, "mosquitto.conf");
    await writeFile(config, [...lines, ""].join("\n"), { mode: 0o644 });
    const started = spawn("mosquitto", ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    child = started;
    let stderr = "";
    started.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const probe: IClientOptions = { protocol: options.tls ? "mqtts" : "mqtt", host: "127.0.0.1", port, rejectUnauthorized: false };
    if (options.auth) Object.assign(probe, { username: user, password });
    await waitForBroker(probe, started, () => stderr);
  } catch (error) {
    child?.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const running = child;
  return {
    port,
    user,
    password,
    async stop() {
      await stopChild(running);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForBroker(probe: IClientOptions, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}): ${stderr()}`);
    try {
      const client = await connectAsync(`${probe.protocol}://127.0.0.1:${probe.port}`, { ...probe, reconnectPeriod: 0, connectTimeout: 1_000 }, false);
      await client.endAsync();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not start on port ${probe.port}: ${(error as Error).message} ${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`))));
  });
}
