import { HubError } from "../../errors.js";

/**
 * When a webhook delivery is attempted. A schedule is a list of delays in seconds: entry 0 is the delay before the
 * first attempt, entry n the delay after the n-th failed attempt; past its end the delivery is dead. Every delay
 * gets ±20% uniform jitter so receivers that failed together are not retried together.
 */

/** Immediately, 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h: ten attempts over about 23 hours. */
export const DEFAULT_RETRY_SCHEDULE_S: readonly number[] = Object.freeze([0, 5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200]);

/** Largest delay of one schedule entry: 7 days. */
export const MAX_RETRY_DELAY_S = 7 * 24 * 3600;
/** Most entries (attempts) in one schedule. */
export const MAX_RETRY_ATTEMPTS = 50;
/** Share of a delay added or removed at random. */
export const RETRY_JITTER = 0.2;
/** Longest wait a `Retry-After` header can impose: 24 hours. */
export const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/**
 * Validates a retry schedule given as `{schedule: [seconds…]}` or a bare array: 1–50 finite delays, each from 0 to
 * 7 days; fractions allowed.
 * @throws HubError `SB_SUBSCRIPTION_INVALID` naming the offending entry.
 * @example parseRetrySchedule({ schedule: [0, 10, 60] }) // [0, 10, 60]
 */
export function parseRetrySchedule(input: unknown): number[] {
  let list: unknown = input;
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const extra = Object.keys(input).filter((k) => k !== "schedule");
    if (extra.length > 0) throw invalid(`retry has unknown key ${JSON.stringify(extra[0])}; expected {"schedule": [seconds…]}`);
    list = (input as { schedule?: unknown }).schedule;
  }
  if (!Array.isArray(list)) {
    throw invalid(`retry schedule must be an array of delays in seconds, got ${describe(list)}`);
  }
  if (list.length < 1 || list.length > MAX_RETRY_ATTEMPTS) {
    throw invalid(`retry schedule must have 1 to ${MAX_RETRY_ATTEMPTS} entries, got ${list.length}`);
  }
  return list.map((delay: unknown, i) => {
    if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 || delay > MAX_RETRY_DELAY_S) {
      throw invalid(`retry schedule[${i}] must be a number of seconds from 0 to ${MAX_RETRY_DELAY_S}, got ${describe(delay)}`);
    }
    return delay;
  });
}

/**
 * The wait before the next attempt after `attemptsMade` attempts (1: the first attempt failed), in ms with ±20%
 * jitter; undefined when the schedule is exhausted and the delivery is dead. `attemptsMade` 0 gives the delay of
 * the first attempt.
 * @example nextDelayMs(DEFAULT_RETRY_SCHEDULE_S, 1) // 4000–6000
 */
export function nextDelayMs(schedule: readonly number[], attemptsMade: number, random: () => number = Math.random): number | undefined {
  if (!Number.isSafeInteger(attemptsMade) || attemptsMade < 0) {
    throw new RangeError(`attemptsMade must be a whole number ≥ 0, got ${attemptsMade}`);
  }
  if (attemptsMade >= schedule.length) return undefined;
  const seconds = schedule[attemptsMade]!;
  const factor = 1 + (random() * 2 - 1) * RETRY_JITTER;
  return Math.round(seconds * 1000 * factor);
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const TIME = String.raw`(\d{2}):(\d{2}):(\d{2})`;
// RFC 9110 §5.6.7: IMF-fixdate, then the two obsolete forms a recipient must still accept.
const IMF_FIXDATE = new RegExp(String.raw`^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(String.raw`^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(String.raw`^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) ${TIME} (\d{4})$`);

/**
 * The wait a `Retry-After` header asks for, in ms from `nowMs`, capped at 24 hours; 0 for a date in the past;
 * undefined when the header is absent or is neither delta-seconds nor an HTTP-date.
 * @example parseRetryAfter("120", Date.now()) // 120000
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  const at = parseHttpDate(value, nowMs);
  if (at === undefined) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

function parseHttpDate(value: string, nowMs: number): number | undefined {
  // Each form yields [year, month name, day, hour, minute, second].
  let parts: [number, string, string, string, string, string];
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(value))) {
    parts = [Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!];
  } else if ((m = RFC850_DATE.exec(value))) {
    // A two-digit year more than 50 years ahead is in the past century (RFC 9110 §5.6.7).
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    parts = [year, m[2]!, m[1]!, m[4]!, m[5]!, m[6]!];
  } else if ((m = ASCTIME_DATE.exec(value))) {
    parts = [Number(m[6]), m[1]!, m[2]!, m[3]!, m[4]!, m[5]!];
  } else {
    return undefined;
  }
  const [year, monthName, ...rest] = parts;
  const month = MONTHS.indexOf(monthName.toLowerCase());
  const [day, hour, minute, second] = rest.map(Number) as [number, number, number, number];
  if (month < 0 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // Reject days past the month's end (31 Feb) rather than rolling over.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

function invalid(details: string): HubError {
  return new HubError("SB_SUBSCRIPTION_INVALID", details);
}

function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (value === undefined) return "nothing";
  const json = JSON.stringify(value);
  return json.length > 40 ? `${json.slice(0, 40)}…` : json;
}
