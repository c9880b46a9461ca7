import type { Logger } from "pino";
import type { Config } from "../config.js";
import { RETENTION_INTERVAL_MS, runRetention, type RetentionResult } from "../store/retention.js";
import type { Store, Topic } from "../store/store.js";

/** How often delivery attempts past `attemptRetentionMs` are pruned. */
export const ATTEMPT_PRUNE_INTERVAL_MS = 3_600_000;
/** Attempts removed per statement while pruning. */
export const ATTEMPT_PRUNE_BATCH = 10_000;
/** How often hours and days are derived from the minutes of the rollups, and the rollups' retention applied. */
export const ROLLUP_INTERVAL_MS = 60_000;

/** Options of {@link startHousekeeping}. */
export interface HousekeepingOptions {
  store: Store;
  topics: { list(): Promise<Topic[]> };
  config: Pick<Config, "attemptRetentionMs" | "eventRetentionMs" | "rollupMinuteRetentionMs" | "rollupHourRetentionMs" | "rollupDayRetentionMs">;
  log: Logger;
  now: () => number;
}

/** The hub's timers that remove old data; see {@link startHousekeeping}. */
export interface Housekeeping {
  /** Runs event retention as of `now`, after any run already under way. */
  runRetention(now?: number): Promise<RetentionResult>;
  /** Clears the timers and waits for a retention run under way. */
  stop(): Promise<void>;
}

/**
 * Starts the housekeeping timers, each also run once right away: attempt pruning (hourly), event retention
 * (every {@link RETENTION_INTERVAL_MS}) and the rollups (every {@link ROLLUP_INTERVAL_MS}). The timers do not keep the
 * process alive.
 */
export function startHousekeeping(options: HousekeepingOptions): Housekeeping {
  const pruneTimer = startAttemptPruning(options);
  const retention = startRetention(options);
  const rollups = startRollups(options);
  return {
    runRetention: retention.runNow,
    async stop() {
      clearInterval(pruneTimer);
      await Promise.all([retention.stop(), rollups.stop()]);
    },
  };
}

/** Hours and days derived from the rollups' minutes, and each resolution's retention, every minute; runs never overlap. */
function startRollups({ store, config, log, now }: HousekeepingOptions) {
  let running: Promise<void> | undefined;
  const rollUp = () => {
    const request = {
      now: now(),
      minuteRetentionMs: config.rollupMinuteRetentionMs,
      hourRetentionMs: config.rollupHourRetentionMs,
      dayRetentionMs: config.rollupDayRetentionMs,
    };
    running ??= store.rollups
      .rollUp(request)
      .catch((error: unknown) => log.error({ err: error }, "rolling up the stats failed"))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(rollUp, ROLLUP_INTERVAL_MS);
  timer.unref();
  rollUp();
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}

/** Attempts older than the retention are removed in bounded batches, hourly, off the hot path. */
function startAttemptPruning({ store, config, log, now }: HousekeepingOptions): NodeJS.Timeout {
  const pruneAttempts = async () => {
    const before = now() - config.attemptRetentionMs;
    try {
      while ((await store.deliveries.pruneAttempts({ before, limit: ATTEMPT_PRUNE_BATCH })) === ATTEMPT_PRUNE_BATCH) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      log.error({ err: error }, "pruning delivery attempts failed");
    }
  };
  const timer = setInterval(() => void pruneAttempts(), ATTEMPT_PRUNE_INTERVAL_MS);
  timer.unref();
  void pruneAttempts();
  return timer;
}

/**
 * Events past their topic's retention are removed every minute, in batches of short transactions. Runs do not
 * overlap: a run still going when the timer fires is left to finish (the tick joins it).
 */
function startRetention({ store, topics, config, log, now }: HousekeepingOptions) {
  const retentionLog = log.child({ component: "retention" });
  let running: Promise<RetentionResult> | undefined;
  const removeExpiredEvents = (asOf: number): Promise<RetentionResult> => {
    running ??= runRetention(store, topics, config, asOf, { log: retentionLog }).finally(() => {
      running = undefined;
    });
    return running;
  };
  const scheduled = () => void removeExpiredEvents(now()).catch((error: unknown) => retentionLog.error({ err: error }, "event retention failed"));
  const timer = setInterval(scheduled, RETENTION_INTERVAL_MS);
  timer.unref();
  scheduled();
  return {
    async runNow(asOf = now()): Promise<RetentionResult> {
      // A run already under way (the timer's) finishes first, so this one sees `asOf` as asked.
      await running?.catch(() => undefined);
      return removeExpiredEvents(asOf);
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
