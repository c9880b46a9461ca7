import { HubError } from "../../errors.js";
import { RESERVED_PARAMS, type EventSearchInput } from "../../query/search-events.js";
import { parseTime } from "../../time.js";
import type { EventSearchQuery } from "../schemas/events.js";

/**
 * `GET /events` query → {@link EventSearchInput}: topics repeated or comma-separated, times parsed, and any other
 * parameter an equality on a top-level data field, its value typed (`123`, `true`, `null`).
 * @throws HubError (400) naming the parameter at fault.
 */
export function eventSearchFromWire(params: EventSearchQuery): EventSearchInput {
  const input: EventSearchInput = { topics: topicValues(params.topic) };
  if (params.type !== undefined) input.type = params.type;
  if (params.key !== undefined) input.key = params.key;
  if (params.from !== undefined) input.fromTime = timeParam("from", params.from);
  if (params.to !== undefined) input.toTime = timeParam("to", params.to);
  if (params.order !== undefined) {
    if (params.order !== "asc" && params.order !== "desc")
      throw new HubError("SB_QUERY_INVALID", `order must be asc or desc, got ${JSON.stringify(params.order)}`);
    input.order = params.order;
  }
  if (params.limit !== undefined) {
    if (!/^\d+$/.test(params.limit) || Number(params.limit) < 1 || Number(params.limit) > 1000) {
      throw new HubError("SB_QUERY_INVALID", `limit must be a whole number from 1 to 1000, got ${JSON.stringify(params.limit)}`);
    }
    input.limit = Number(params.limit);
  }
  if (params.cursor !== undefined) input.cursor = params.cursor;
  if (params.filter !== undefined) input.filter = params.filter;
  for (const [name, value] of Object.entries(params)) {
    if (RESERVED_PARAMS.has(name) || value === undefined) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/.test(name)) {
      throw new HubError("SB_QUERY_INVALID", `unknown parameter ${JSON.stringify(name)}; data fields must be names of letters, digits, '_' or '-'`);
    }
    (input.dataEquals ??= []).push({ field: name, value: typedValue(value as string) });
  }
  return input;
}

/** `topic` repeated or comma-separated, trimmed, empty entries dropped. */
export function topicValues(param: string | string[] | undefined): string[] {
  return (Array.isArray(param) ? param : param === undefined ? [] : [param])
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter((t) => t !== "");
}

/** A time parameter, parsed. @throws HubError SB_QUERY_INVALID_TIME naming it. */
export function timeParam(name: string, value: string): number {
  const t = parseTime(value);
  if (t === undefined) {
    throw new HubError(
      "SB_QUERY_INVALID_TIME",
      `invalid ${name} parameter: unrecognized time format: ${JSON.stringify(value)} (use RFC 3339, "2006-01-02 15:04:05", a date, or epoch seconds/ms)`,
    );
  }
  return t;
}

/** `123` → 123, `true` → true, `null` → null, anything else the string itself. */
function typedValue(raw: string): string | number | boolean | null {
  if (/^-?(0|[1-9]\d{0,15})(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  return raw;
}
