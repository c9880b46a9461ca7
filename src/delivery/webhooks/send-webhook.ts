import { EventEmitter } from "node:events";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import { Agent } from "undici";
import { parseRetryAfter } from "./retry-policy.js";
import { guardedLookup, literalHost, privateTargetError, refusedRange } from "./target-guard.js";

/** Bytes of a response body kept in {@link AttemptResult.responseExcerpt}; the rest is never read. */
export const RESPONSE_EXCERPT_BYTES = 4096;
/** Connections per origin when {@link WebhookClientOptions.connections} is not given. */
export const DEFAULT_CONNECTIONS_PER_ORIGIN = 64;

/** One webhook POST. */
export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Budget of the whole attempt: connect, send, response headers and the excerpt of the body. */
  timeoutMs: number;
}

/** What one attempt came to. */
export interface AttemptResult {
  /** 2xx within the timeout. */
  ok: boolean;
  /** HTTP status, null when no response. */
  status: number | null;
  latencyMs: number;
  /** First 4 KiB of the response body, decoded as UTF-8 (invalid bytes replaced); null when no response. */
  responseExcerpt: string | null;
  /**
   * Why no response came: "timeout after 10000 ms", "connect ECONNREFUSED 127.0.0.1:9", "private address 10.0.0.1
   * refused"; or, with a status, why its excerpt is cut short: "response body not received in full within 10000 ms".
   */
  error: string | null;
  /** From `Retry-After` on 429/503. */
  retryAfterMs?: number;
  /** Status 410: the receiver asks never to be called again. */
  gone: boolean;
}

/** Sends webhook attempts over pooled keep-alive connections. */
export interface WebhookClient {
  /** One attempt; never throws, every failure is an {@link AttemptResult}. */
  send(req: WebhookRequest): Promise<AttemptResult>;
  /** Closes the pooled connections once the attempts in flight are done. */
  close(): Promise<void>;
  /** Closes the pooled connections now, failing attempts still in flight (on shutdown, after their grace). */
  destroy(): Promise<void>;
}

/** Options of {@link createWebhookClient}. */
export interface WebhookClientOptions {
  /** Allow private targets (`SWITCHBOARD_ALLOW_PRIVATE_TARGETS`); refused ones fail before connecting. */
  allowPrivate: boolean;
  /** Connections per origin; default 64. */
  connections?: number;
  /** `user-agent` sent when the request's headers have none; default `switchboard`. */
  userAgent?: string;
  /** The clock a `Retry-After` date is read against; default the system clock. */
  now?: () => number;
}

/**
 * A webhook client on one undici Agent: a keep-alive pool per origin, no redirects followed (a 3xx is a failed
 * attempt), and the private-target guard applied to literal hosts before connecting and to resolved names at
 * connect time.
 * @example
 * const client = createWebhookClient({ allowPrivate: false });
 * const result = await client.send({ url, body, headers, timeoutMs: 10_000 });
 * await client.close();
 */
export function createWebhookClient(options: WebhookClientOptions): WebhookClient {
  const { allowPrivate, connections = DEFAULT_CONNECTIONS_PER_ORIGIN, userAgent = "switchboard", now = Date.now } = options;
  // undici 7 follows no redirects unless given its redirect interceptor (and rejects `maxRedirections`), so none
  // is installed here.
  const agent = new Agent({ connections, connect: { lookup: guardedLookup(allowPrivate) } });
  const targetOf = targetCache(allowPrivate);

  async function send(req: WebhookRequest): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const failure = (error: string): AttemptResult => ({
      ok: false,
      status: null,
      latencyMs: elapsed(),
      responseExcerpt: null,
      error,
      gone: false,
    });

    const target = targetOf(req.url);
    if ("refused" in target) return failure(target.refused);
    if (!(req.timeoutMs > 0)) return failure(`invalid timeout ${req.timeoutMs}`);

    const headers = { ...req.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "user-agent")) headers["user-agent"] = userAgent;

    const budget = new AttemptBudget();
    const timeoutError = `timeout after ${req.timeoutMs} ms`;
    const timer = setTimeout(() => budget.abort(new Error(timeoutError)), req.timeoutMs);
    const budgetMs = Math.max(1, Math.ceil(req.timeoutMs));
    try {
      const res = await agent.request({
        origin: target.origin,
        path: target.path,
        method: "POST",
        headers,
        body: req.body,
        signal: budget,
        headersTimeout: budgetMs,
        bodyTimeout: budgetMs,
      });
      const status = res.statusCode;
      // The status line is the receiver's answer; the excerpt is read within what is left of the budget and kept
      // as far as it got, and a body that stalled or trickled past the budget is said so.
      const excerpt = await readExcerpt(res.body);
      const result: AttemptResult = {
        ok: status >= 200 && status < 300,
        status,
        latencyMs: elapsed(),
        responseExcerpt: excerpt.text,
        error: excerpt.failure === undefined ? null : bodyCutError(excerpt.failure, budget.aborted, req.timeoutMs),
        gone: status === 410,
      };
      if (status === 429 || status === 503) {
        const header = res.headers["retry-after"];
        const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, now());
        if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
      }
      return result;
    } catch (err) {
      return failure(budget.aborted || isUndiciTimeout(err) ? timeoutError : describeError(err));
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    send,
    close: () => agent.close(),
    destroy: () => agent.destroy(),
  };
}

/** URLs whose {@link Target} a client keeps (one per subscription URL); past this it starts over. */
const MAX_TARGETS_KEPT = 10_000;

/** Where a URL's attempts go, or why none may go there. */
type Target = { origin: string; path: string } | { refused: string };

/** {@link parseTarget} with what each URL comes to kept: 1.1 µs an attempt parsed and checked, 0.01 kept. */
function targetCache(allowPrivate: boolean): (raw: string) => Target {
  const targets = new Map<string, Target>();
  return (raw) => {
    let target = targets.get(raw);
    if (target === undefined) {
      target = parseTarget(raw, allowPrivate);
      if (targets.size >= MAX_TARGETS_KEPT) targets.clear();
      targets.set(raw, target);
    }
    return target;
  };
}

/** Parses a webhook URL and refuses, before connecting, a literal address in a private range (unless allowed). */
function parseTarget(raw: string, allowPrivate: boolean): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { refused: `invalid url ${JSON.stringify(raw.slice(0, 100))}` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { refused: `unsupported protocol ${url.protocol}` };
  // Node resolves nothing for an IP-literal host, so guardedLookup never sees it: check it here.
  const host = literalHost(url.hostname);
  if (isIP(host) !== 0 && refusedRange(host, allowPrivate)) return { refused: privateTargetError(host, host).message };
  return { origin: url.origin, path: `${url.pathname}${url.search}` };
}

/**
 * An attempt's whole budget as the abort signal undici takes: an EventEmitter with `aborted` and `reason`, which
 * undici accepts as well as an AbortSignal. An AbortController and its EventTarget listener cost about 6 µs per
 * attempt (measured in a loop here; 10 µs in a profile of the webhook bench), this about 0.5.
 */
class AttemptBudget extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit("abort");
  }
}

/**
 * The first {@link RESPONSE_EXCERPT_BYTES} of a body as UTF-8. A body that is longer is destroyed (its connection
 * closed) rather than read on, so a receiver answering megabytes costs 4 KiB; one that fails midway (timeout, reset)
 * yields what had arrived, and the failure.
 */
async function readExcerpt(body: Readable): Promise<{ text: string; failure?: unknown }> {
  // Destroying the body before its end makes undici emit an abort error; nobody else listens for it.
  body.on("error", () => {});
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  let failure: unknown;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = RESPONSE_EXCERPT_BYTES - size;
      if (chunk.length > room) {
        chunks.push(chunk.subarray(0, room));
        size += room;
        truncated = true;
        break; // ends the iteration and destroys the body: the rest is never read
      }
      chunks.push(chunk);
      size += chunk.length;
    }
  } catch (error) {
    truncated = true;
    failure = error;
  }
  // Decoding a cut body in streaming mode drops a multi-byte character split at the cut instead of replacing it.
  const text = new TextDecoder("utf-8").decode(Buffer.concat(chunks, size), { stream: truncated });
  return failure === undefined ? { text } : { text, failure };
}

/** Why a response body was not read to its end (nor to the excerpt's size): the attempt's budget ran out, or the receiver broke off. */
function bodyCutError(failure: unknown, aborted: boolean, timeoutMs: number): string {
  if (aborted || isUndiciTimeout(failure)) return `response body not received in full within ${timeoutMs} ms`;
  return `response body cut off: ${describeError(failure)}`;
}

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/** A one-line reason for a failed attempt; Happy Eyeballs failures are AggregateErrors with an empty message. */
function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map(describeError))].join("; ");
  }
  if (err instanceof Error) {
    const message = err.message || (err as NodeJS.ErrnoException).code || err.name;
    const cause = err.cause instanceof Error && err.cause.message && err.cause.message !== message ? `: ${err.cause.message}` : "";
    return `${message}${cause}`;
  }
  return String(err);
}
