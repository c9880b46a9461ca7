import type { AggregateInput } from "../../aggregation/aggregate-events.js";
import type { AggregateResult } from "../../aggregation/aggregate-spec.js";
import type { EventStatsInput, StatsInput } from "../../aggregation/stats.js";
import { DAY_MS, MINUTE_MS, type DeliveryStatsBucket, type EventStatsBucket } from "../../store/rollups.js";
import { formatTime } from "../../time.js";
import type { AggregateQuery, DeliveryStatsQuery, EventStatsQuery } from "../schemas/stats.js";
import { timeParam, topicValues } from "./events.js";
import { JsonBytesWriter, type JsonBytes } from "./json-bytes.js";

/** The range parameters common to the stats endpoints. */
function rangeFromWire(params: { from?: string; to?: string; interval?: string }): StatsInput {
  const input: StatsInput = {};
  if (params.from !== undefined) input.from = timeParam("from", params.from);
  if (params.to !== undefined) input.to = timeParam("to", params.to);
  if (params.interval !== undefined) input.interval = params.interval;
  return input;
}

/** `GET /stats/events` query → {@link EventStatsInput}. */
export function eventStatsFromWire(params: EventStatsQuery): EventStatsInput {
  const input: EventStatsInput = { ...rangeFromWire(params), topics: topicValues(params.topic) };
  if (params.type !== undefined) input.type = params.type;
  if (params.group_by !== undefined) input.groupBy = params.group_by;
  return input;
}

/** `GET /stats/deliveries` query → the domain's request. */
export function deliveryStatsFromWire(params: DeliveryStatsQuery): StatsInput & { subscriptionId?: string } {
  return { ...rangeFromWire(params), ...(params.subscription !== undefined && { subscriptionId: params.subscription }) };
}

/**
 * `GET /stats/events`' reply as JSON, written directly like {@link deliveryStatsJson} (a day of minutes is 1,440
 * buckets). Each bucket: `t`, `topic` and `type` when grouped by them, `count`, `bytes`. Topics and types are
 * escaped by `JSON.stringify`, once per reply.
 */
export function eventStatsJson(buckets: readonly EventStatsBucket[]): JsonBytes {
  const time = minuteTimes();
  const text = textsJson();
  const out = new JsonBytesWriter();
  out.append('{"buckets":[');
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    out.append(`${i === 0 ? "" : ","}{"t":"${time(b.t)}"`);
    if (b.topic !== undefined) text(out, ',"topic":', b.topic);
    if (b.type !== undefined) text(out, ',"type":', b.type);
    out.append(`,"count":${b.count},"bytes":${b.bytes}}`);
  }
  out.append("]}");
  return out.end();
}

/** Appends a key and a text's `JSON.stringify`, escaped once per reply (a group's text repeats in every bucket). */
function textsJson(): (out: JsonBytesWriter, key: string, text: string) => void {
  const escaped = new Map<string, { json: string; ascii: boolean }>();
  return (out, key, text) => {
    let e = escaped.get(text);
    if (e === undefined) {
      const json = JSON.stringify(text);
      escaped.set(text, (e = { json, ascii: !/[^\x00-\x7f]/.test(json) }));
    }
    out.append(key);
    out.append(e.json, e.ascii);
  };
}

/**
 * `GET /stats/deliveries`' reply as JSON, written directly rather than built as objects and serialised (a day of
 * minutes is 1,440 buckets of 15 numbers, about 290 KB; see docs/aggregation.md for the figures). Each bucket: `t`,
 * `delivered`, `failed`, `dead`, and `latency_ms: { sum, histogram }`, the histogram keyed by each bucket's upper
 * bound in ms (`LATENCY_LABELS`; not cumulative). Numbers are finite, so `String(n)` is their JSON; times are ISO
 * texts, which need no escaping: the whole text is ASCII. In pieces ({@link JsonBytesWriter}), never one large
 * string or Buffer.
 */
export function deliveryStatsJson(buckets: readonly DeliveryStatsBucket[]): JsonBytes {
  const time = minuteTimes();
  const out = new JsonBytesWriter();
  out.append('{"buckets":[');
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    const c = b.latencyCounts;
    out.append(
      `${i === 0 ? "" : ","}{"t":"${time(b.t)}","delivered":${b.delivered},"failed":${b.failed},"dead":${b.dead},"latency_ms":{"sum":${b.latencySumMs},` +
        `"histogram":{"10":${c[0]},"25":${c[1]},"50":${c[2]},"100":${c[3]},"250":${c[4]},"500":${c[5]},"1000":${c[6]},"2500":${c[7]},"10000":${c[8]},"+Inf":${c[9]}}}}`,
    );
  }
  out.append("]}");
  return out.end();
}

/** "T00:00:00.000Z" … "T23:59:00.000Z": the time of day of each minute, as `formatTime` ends. */
const MINUTES_OF_DAY = Array.from({ length: DAY_MS / MINUTE_MS }, (_, m) => formatTime(m * MINUTE_MS).slice(10));

/**
 * `formatTime` for a run of bucket times: a bucket starts on a whole minute, so its text is its day's date, formatted
 * once per day, and one of {@link MINUTES_OF_DAY} (1,440 `toISOString` calls took about 0.6 ms).
 */
function minuteTimes(): (t: number) => string {
  let day = NaN;
  let date = "";
  return (t) => {
    const ofDay = ((t % DAY_MS) + DAY_MS) % DAY_MS;
    if (ofDay % MINUTE_MS !== 0) return formatTime(t);
    if (t - ofDay !== day) {
      day = t - ofDay;
      const text = formatTime(day);
      date = text.length === 24 ? text.slice(0, 10) : ""; // years past 9999 have six digits and a sign
    }
    return date === "" ? formatTime(t) : date + MINUTES_OF_DAY[ofDay / MINUTE_MS]!;
  };
}

/** `GET /events/aggregate` query → {@link AggregateInput}. */
export function aggregateFromWire(params: AggregateQuery): AggregateInput {
  const input: AggregateInput = { topics: topicValues(params.topic) };
  if (params.from !== undefined) input.from = timeParam("from", params.from);
  if (params.to !== undefined) input.to = timeParam("to", params.to);
  for (const key of ["type", "filter", "interval", "metrics"] as const) if (params[key] !== undefined) input[key] = params[key];
  if (params.group_by !== undefined) input.groupBy = params.group_by;
  return input;
}

/** An aggregation on the wire: each bucket's time, group (its value; null when missing) and metrics by name. */
export function aggregateOut(result: AggregateResult): Record<string, unknown> {
  return {
    buckets: result.buckets.map((b) => ({
      t: formatTime(b.t),
      ...(b.group !== undefined && { group: b.group === null ? null : (JSON.parse(b.group) as unknown) }),
      ...b.values,
    })),
    skipped: result.skipped,
    scanned: result.scanned,
    ran_in: result.ranIn,
  };
}
