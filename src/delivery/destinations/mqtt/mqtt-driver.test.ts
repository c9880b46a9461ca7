import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { generate, parser, type IPublishPacket, type Packet } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import type { OutgoingDelivery } from "../../destination.js";
import type { ConnectionListener } from "../broker-driver.js";
import { mqttDriver, type MqttBrokerConnection } from "./mqtt-driver.js";

/**
 * A scripted broker. By default it speaks MQTT 3.1.1 only, as older brokers do: no 3.1.1-only broker runs on this
 * machine (Mosquitto speaks 5, and the integration tests cover MQTT 5 against it). With `receiveMaximum` it speaks 5
 * and states that limit in its CONNACK, as strict brokers do (Mosquitto states 20 but does not hold clients to it).
 */
interface ScriptedBroker {
  port: number;
  /** Protocol levels of the CONNECTs received, in order. */
  connects: number[];
  publishes: IPublishPacket[];
  /** Whether PUBLISHes are acknowledged at once (off: held until `ackHeld`, or failed by `dropClients`). */
  ackPublishes: boolean;
  ackHeld(): void;
  dropClients(): void;
  close(): Promise<void>;
}

async function startScriptedBroker(options: { receiveMaximum?: number } = {}): Promise<ScriptedBroker> {
  const sockets = new Set<Socket>();
  const version = options.receiveMaximum === undefined ? 4 : 5;
  const held: Array<() => void> = [];
  const broker = { connects: [] as number[], publishes: [] as IPublishPacket[], ackPublishes: true };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket)).on("error", () => undefined);
    const parse = parser();
    const send = (packet: Packet) => socket.write(generate(packet, { protocolVersion: version }));
    parse.on("packet", (packet: Packet) => {
      if (packet.cmd === "connect") {
        broker.connects.push(packet.protocolVersion ?? 4);
        // A 3.1.1 broker answers any other level with return code 0x01 and closes (MQTT 3.1.1 §3.1.2.2).
        if (packet.protocolVersion !== version) socket.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
        else if (version === 4) send({ cmd: "connack", returnCode: 0, sessionPresent: false });
        else send({ cmd: "connack", reasonCode: 0, sessionPresent: false, properties: { receiveMaximum: options.receiveMaximum } });
      } else if (packet.cmd === "publish") {
        broker.publishes.push(packet);
        const ack = () =>
          send(version === 4 ? { cmd: "puback", messageId: packet.messageId! } : { cmd: "puback", messageId: packet.messageId!, reasonCode: 0 });
        if (broker.ackPublishes) ack();
        else held.push(ack);
      } else if (packet.cmd === "pingreq") {
        send({ cmd: "pingresp" });
      }
    });
    socket.on("data", (chunk: Buffer) => parse.parse(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return Object.assign(broker, {
    port: (server.address() as AddressInfo).port,
    ackHeld: () => held.splice(0).forEach((ack) => ack()),
    dropClients: () => sockets.forEach((s) => s.destroy()),
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

const startMqtt311Broker = () => startScriptedBroker();

const delivery = {
  deliveryId: "dlv_1",
  attemptedAt: 0,
  subscription: { headers: {}, body: "data" },
  event: { id: "evt_1", topic: "orders", attributes: { region: "eu" }, dataJson: '{"n":1}', time: 0, subject: null, source: null, type: null },
} as unknown as OutgoingDelivery;

function recordingListener() {
  const closed: unknown[] = [];
  const listener: ConnectionListener = { disconnected: () => undefined, reconnected: () => undefined, closed: (error) => closed.push(error) };
  return { listener, closed };
}

describe("mqttDriver against a scripted broker", () => {
  let broker: ScriptedBroker | undefined;
  let connection: MqttBrokerConnection | undefined;
  afterEach(async () => {
    await connection?.close();
    await broker?.close();
    connection = broker = undefined;
  });

  it("falls back to 3.1.1 when MQTT 5 is refused, publishes the body without properties, and warns", async () => {
    broker = await startMqtt311Broker();
    const target = mqttDriver.parseUrl(new URL(`mqtt://127.0.0.1:${broker.port}/orders/eu`));
    connection = await mqttDriver.connect(target, recordingListener().listener);
    expect(broker.connects).toEqual([5, 4]);
    expect(connection.protocolVersion).toBe(4);

    const receipt = await mqttDriver.publish(connection, target, delivery, 2_000);
    expect(JSON.parse(receipt.excerpt!)).toEqual({ protocol: "3.1.1" });
    const [sent] = broker.publishes;
    expect(sent).toMatchObject({ topic: "orders/eu", qos: 1, retain: false });
    expect(sent!.properties).toBeUndefined();
    expect(sent!.payload.toString()).toBe('{"n":1}');

    const warning = await mqttDriver.check!(connection, target);
    expect(warning).toMatch(
      /^mqtt:\/\/127\.0\.0\.1:\d+ speaks MQTT 3\.1\.1, which has no message properties: messages to topic orders\/eu carry the body alone/,
    );
    expect(warning).toContain('body "envelope"');
  });

  it("a lost connection fails the publishes waiting for their PUBACK at once, and tells the pool", async () => {
    broker = await startMqtt311Broker();
    broker.ackPublishes = false;
    const target = mqttDriver.parseUrl(new URL(`mqtt://127.0.0.1:${broker.port}/orders`));
    const { listener, closed } = recordingListener();
    connection = await mqttDriver.connect(target, listener);
    const started = Date.now();
    const pending = mqttDriver.publish(connection, target, delivery, 30_000);
    const outcome = pending.then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(broker.publishes).toHaveLength(1);
    broker.dropClients();
    expect(await outcome).toMatch(/^connection lost \(.+\) before the PUBACK on topic orders$/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(closed).toHaveLength(1);
    await expect(mqttDriver.publish(connection, target, delivery, 1_000)).rejects.toThrow(/^mqtt:\/\/127\.0\.0\.1:\d+ is not connected$/);
  });

  it("times out waiting for a PUBACK that does not come, and closes at once all the same", async () => {
    broker = await startMqtt311Broker();
    broker.ackPublishes = false;
    const target = mqttDriver.parseUrl(new URL(`mqtt://127.0.0.1:${broker.port}/orders`));
    const opened = await mqttDriver.connect(target, recordingListener().listener);
    connection = opened;
    await expect(mqttDriver.publish(opened, target, delivery, 200)).rejects.toThrow("timeout after 200 ms waiting for the PUBACK on topic orders");
    // The client still waits for that PUBACK; a graceful end would wait with it (and hold up the hub's shutdown).
    const closing = Date.now();
    await opened.close();
    connection = undefined;
    expect(Date.now() - closing).toBeLessThan(1_000);
  });

  it("closing the connection is not reported as a loss", async () => {
    broker = await startMqtt311Broker();
    const target = mqttDriver.parseUrl(new URL(`mqtt://127.0.0.1:${broker.port}/orders`));
    const { listener, closed } = recordingListener();
    const opened = await mqttDriver.connect(target, listener);
    await opened.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toEqual([]);
  });

  it("keeps within the broker's Receive Maximum: a send waits for a PUBACK once that many are out", async () => {
    broker = await startScriptedBroker({ receiveMaximum: 2 });
    broker.ackPublishes = false;
    const target = mqttDriver.parseUrl(new URL(`mqtt://127.0.0.1:${broker.port}/orders`));
    const opened = await mqttDriver.connect(target, recordingListener().listener);
    connection = opened;
    expect(opened.protocolVersion).toBe(5);
    const first = [1, 2, 3].map(() => mqttDriver.publish(opened, target, delivery, 5_000));
    // Timed out while waiting for a slot: never sent, and its slot passes on.
    const starved = mqttDriver.publish(opened, target, delivery, 100);
    await expect(starved).rejects.toThrow("timeout after 100 ms waiting for the PUBACK on topic orders");
    expect(broker.publishes).toHaveLength(2);
    broker.ackPublishes = true;
    broker.ackHeld();
    const receipts = await Promise.all(first);
    expect(receipts.map((r) => JSON.parse(r.excerpt!))).toEqual([1, 2, 3].map(() => ({ reason_code: 0, reason: "Success" })));
    await mqttDriver.publish(opened, target, delivery, 2_000);
    expect(broker.publishes).toHaveLength(4);
    expect(broker.publishes[0]!.properties?.userProperties).toMatchObject({ "webhook-id": "dlv_1", "ce-id": "evt_1", "ce-region": "eu" });
  });
});
