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

/** A Mosquitto of a test's own, on a free loopback port, that takes only `user`/`password` (no anonymous clients). */
export interface AuthBroker {
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/**
 * Starts a private Mosquitto with a password file, for credential tests (the shared one lets anyone in).
 * @example const broker = await startAuthBroker(); afterAll(() => broker.stop());
 */
export async function startAuthBroker(): Promise<AuthBroker> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-mosquitto-"));
  await chmod(dir, 0o755); // Mosquitto started as root reads its files as the mosquitto user.
  const user = "app";
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const passwordFile = join(dir, "passwd");
  await writeFile(passwordFile, "", { mode: 0o644 });
  await run("mosquitto_passwd", ["-b", passwordFile, user, password]);
  await chmod(passwordFile, 0o644);
  const port = await freePort();
  const config = join(dir, "mosquitto.conf");
  await writeFile(config, [`listener ${port} 127.0.0.1`, "allow_anonymous false", `password_file ${passwordFile}`, "persistence false", ""].join("\n"), { mode: 0o644 });
  const child = spawn("mosquitto", ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitForBroker(port, user, password, child, () => stderr);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    user,
    password,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForBroker(port: number, user: string, password: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}): ${stderr()}`);
    try {
      const probe = await connectAsync(`mqtt://127.0.0.1:${port}`, { username: user, password, reconnectPeriod: 0, connectTimeout: 1_000 }, false);
      await probe.endAsync();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not start on port ${port}: ${(error as Error).message} ${stderr()}`);
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
