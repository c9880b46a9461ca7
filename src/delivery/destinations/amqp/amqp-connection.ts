import type { ChannelModel, ConfirmChannel, Message, Options } from "amqplib";
import type { BrokerConnection } from "../broker-driver.js";

/** One message to publish with a publisher confirm. */
export interface AmqpPublish {
  exchange: string;
  routingKey: string;
  body: Buffer;
  /** `messageId` is required: it pairs a `basic.return` with its confirm. */
  options: Options.Publish & { messageId: string };
}

/** How long closing waits for the broker's close-ok before it drops the socket. */
const CLOSE_TIMEOUT_MS = 2_000;

/** No confirm (nor channel) within the publish's time. */
export class AmqpConfirmTimeout extends Error {}

/**
 * A confirm channel and what it learnt: messages the broker returned as unroutable (by message id, counted, since a
 * retry may be in flight with the first attempt), and the error the broker closed it with.
 */
interface ExchangeChannel {
  channel: ConfirmChannel;
  returned: Map<string, { count: number; reason: string }>;
  closedWith: Error | undefined;
}

/**
 * One AMQP connection (one vhost) of the pool, with a confirm channel per exchange, opened on first use. The broker
 * closes a channel on a channel-level error (a missing exchange: 404); only that exchange's channel goes, and the
 * next publish to it opens a new one, so other subscriptions on the connection carry on.
 */
export class AmqpConnection implements BrokerConnection {
  private readonly channels = new Map<string, Promise<ExchangeChannel>>();
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(readonly model: ChannelModel) {
    model.once("close", () => (this.closed = true));
  }

  /**
   * Publishes with `mandatory` on the exchange's confirm channel and resolves on the broker's confirm (`basic.ack`).
   * Rejects when the message was returned as unroutable (`basic.return` comes before its ack), nacked, or its channel
   * was closed; with an {@link AmqpConfirmTimeout} after `timeoutMs` without a confirm.
   */
  async publish(message: AmqpPublish, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AmqpConfirmTimeout(`no confirm within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const ch = await Promise.race([this.channel(message.exchange), timeout]);
      await Promise.race([confirmed(ch, message, () => this.discard(message.exchange, ch)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether `exchange` exists, looked up (passively declared) on a channel of its own, since the broker closes the
   * channel when it does not. Resolves to the broker's 404 error when it is missing; rejects on any other failure.
   */
  async missingExchange(exchange: string): Promise<Error | undefined> {
    const channel = await this.model.createChannel();
    channel.on("error", () => undefined);
    try {
      await channel.checkExchange(exchange);
      return undefined;
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return error as Error;
      throw error;
    } finally {
      // Not awaited: like the connection's, a channel's close never settles if the connection ends meanwhile.
      channel.close().catch(() => undefined);
    }
  }

  /**
   * Closes the connection; one already closed resolves too. amqplib's `close()` never settles when the socket ends
   * during the closing handshake, so the connection's 'close' event settles it as well, and after
   * {@link CLOSE_TIMEOUT_MS} without the broker's close-ok the socket is destroyed.
   */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.closed) return resolve();
      const timer = setTimeout(() => {
        (this.model.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      this.model.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.model.close().catch(() => undefined);
    });
    return this.closing;
  }

  private channel(exchange: string): Promise<ExchangeChannel> {
    let opening = this.channels.get(exchange);
    if (!opening) {
      opening = this.openChannel(exchange);
      this.channels.set(exchange, opening);
      opening.catch(() => this.channels.get(exchange) === opening && this.channels.delete(exchange));
    }
    return opening;
  }

  private async openChannel(exchange: string): Promise<ExchangeChannel> {
    const channel = await this.model.createConfirmChannel();
    const ch: ExchangeChannel = { channel, returned: new Map(), closedWith: undefined };
    channel.on("return", (m: Message) => {
      const id = String(m.properties.messageId);
      const seen = ch.returned.get(id);
      if (seen) seen.count++;
      else {
        const { replyCode, replyText } = m.fields as unknown as { replyCode: number; replyText: string };
        ch.returned.set(id, { count: 1, reason: `${replyCode} ${replyText}` });
      }
    });
    // The broker closing the channel (404 no exchange, 403 access refused) comes as 'error', before 'close'.
    channel.on("error", (error: Error) => (ch.closedWith = error));
    channel.on("close", () => this.forget(exchange, ch));
    return ch;
  }

  /** Drops a channel that can no longer be trusted (a publish threw half-way), so the next publish opens another. */
  private discard(exchange: string, ch: ExchangeChannel): void {
    this.forget(exchange, ch);
    ch.channel.close().catch(() => undefined);
  }

  private forget(exchange: string, ch: ExchangeChannel): void {
    const current = this.channels.get(exchange);
    if (current)
      void current.then(
        (c) => c === ch && this.channels.get(exchange) === current && this.channels.delete(exchange),
        () => undefined,
      );
  }
}

/** One publish on a confirm channel, settled by its confirm and any `basic.return` before it. */
function confirmed(ch: ExchangeChannel, { exchange, routingKey, body, options }: AmqpPublish, discard: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error: unknown) => {
      const returned = ch.returned.get(options.messageId);
      if (returned) {
        if (--returned.count === 0) ch.returned.delete(options.messageId);
        if (error === null || error === undefined) {
          reject(new Error(`unroutable: the exchange routed it to no queue (basic.return ${returned.reason})`));
          return;
        }
      }
      if (error === null || error === undefined) resolve();
      else if (ch.closedWith) reject(new Error(closedChannelText(ch.closedWith)));
      else if (/nacked/.test((error as Error).message)) reject(new Error("the broker refused the message (basic.nack)"));
      else reject(new Error(publishErrorText(error)));
    };
    try {
      ch.channel.publish(exchange, routingKey, body, { ...options, mandatory: true, persistent: true }, settle);
    } catch (error) {
      // amqplib queued the confirm callback before the publish threw: the channel's confirms would be off by one.
      discard();
      reject(new Error(ch.closedWith ? closedChannelText(ch.closedWith) : publishErrorText(error)));
    }
  });
}

/** `the broker closed the channel: 404 (NOT-FOUND) with message "NOT_FOUND - no exchange 'orders' in vhost '/'"`. */
function closedChannelText(error: Error): string {
  return `the broker closed the channel: ${error.message.replace(/^Channel closed by server: /, "")}`;
}

/** amqplib's `channel closed` (a lost connection, or a channel we dropped) says nothing of the confirm: say it. */
function publishErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^channel closed$/i.test(message) ? "no publisher confirm: the channel closed before it came" : message;
}
