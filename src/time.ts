/**
 * Parses the time formats users send: RFC 3339 (`2025-01-01T00:00:00Z`, offsets, fractions), `2006-01-02 15:04:05`,
 * a date alone (`2006-01-02`), epoch seconds or milliseconds (as a number or digits), and any of these
 * URL-encoded once or twice. Times without a zone are UTC.
 * @returns epoch milliseconds, or undefined when the input is none of these.
 */
export function parseTime(input: unknown): number | undefined {
  if (typeof input === "number") return fromEpoch(input);
  if (typeof input !== "string") return undefined;
  let s = input.trim();
  for (let i = 0; i < 2 && s.includes("%"); i++) {
    try {
      s = decodeURIComponent(s).trim();
    } catch {
      return undefined;
    }
  }
  if (s === "" || s.length > 64) return undefined;
  if (/^-?\d+(\.\d+)?$/.test(s)) return fromEpoch(Number(s));
  // A `+` offset sent unencoded in a query string arrives as a space.
  s = s.replace(/(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/, "$1+$2");
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", sec = "00", frac = "", zone = "Z"] = m;
  const year = Number(y),
    month = Number(mo),
    day = Number(d),
    hour = Number(h),
    minute = Number(mi),
    second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  let offsetMin = 0;
  if (zone !== "Z" && zone !== "z") {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    offsetMin = (zm[1] === "-" ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3]));
    if (Number(zm[2]) > 23 || Number(zm[3]) > 59) return undefined;
  }
  return utc(year, month - 1, day, hour, minute, Math.min(second, 59), ms) - offsetMin * 60_000;
}

/** `Date.UTC` without its mapping of years 0–99 to 1900–1999 (Go's zero time is `0001-01-01T00:00:00Z`). */
function utc(year: number, monthIndex: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

/** Epoch values below 10^11 are seconds (until the year 5138), the rest milliseconds. */
function fromEpoch(n: number): number | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  const ms = Math.abs(n) < 1e11 ? Math.round(n * 1000) : Math.round(n);
  return ms > 253402300799999 ? undefined : ms; // after 9999-12-31
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

/** RFC 3339 in UTC with milliseconds. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}
