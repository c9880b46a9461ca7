import { useEffect, useState, type FormEvent } from "react";
import { sb, type EventEnvelope } from "../api";
import { EventPanel } from "../EventDetail";
import { COLUMNS, EventTable } from "../EventTable";
import { ErrorText, errorText } from "../hooks";
import { navigate, usePath } from "../router";

interface Search {
  topic: string;
  type: string;
  key: string;
  /** Each end of the range: "" (any time / now), a relative time before now (`15m`, `1h`…), or "at" a time. */
  from: string;
  to: string;
  /** `datetime-local` values, for an end that is "at" a time. */
  start: string;
  end: string;
  /** `field=value` pairs, one per line or comma-separated: equality on top-level data fields. */
  fields: string;
  filter: string;
}

type Params = NonNullable<Parameters<typeof sb.events.page>[0]>;

/** The relative times each end of the range offers, before now. */
const AGO: Array<[string, string]> = [
  ["15m", "15 minutes ago"],
  ["1h", "1 hour ago"],
  ["24h", "24 hours ago"],
  ["7d", "7 days ago"],
];

/**
 * Search stored events (topic, type, key, a range whose ends are each relative or absolute, data fields, CEL), page
 * by page; open one.
 */
export function Events() {
  const [form, setForm] = useState<Search>({ topic: "", type: "", key: "", from: "", to: "", start: "", end: "", fields: "", filter: "" });
  const [rows, setRows] = useState<EventEnvelope[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  // The search as sent: "More" pages it on with the same range, not one that moved with the clock.
  const [searched, setSearched] = useState<Params | undefined>();
  const [open, setOpen] = useState<EventEnvelope | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const rangeError = rangeProblem(form);
  // The event's page: /search/<id> opens it (a link, a reload); selecting or closing one keeps the address in step.
  const linked = /^\/search\/([^/]+)$/.exec(usePath())?.[1];
  useEffect(() => {
    if (!linked || open?.id === linked) return;
    let current = true;
    sb.events.get(decodeURIComponent(linked)).then(
      // Its deliveries are the panel's to show, as a timeline: the JSON is the event's own.
      ({ deliveries: _deliveries, ...event }) => current && setOpen(event),
      (e: unknown) => current && setError(errorText(e)),
    );
    return () => {
      current = false;
    };
  }, [linked, open?.id]);
  const select = (e: EventEnvelope | undefined) => {
    setOpen(e);
    navigate(e ? `/search/${encodeURIComponent(e.id)}` : "/search", { replace: true });
  };

  const fetchPage = async (params: Params, cursor: string | undefined) => {
    setBusy(true);
    setError(undefined);
    try {
      const page = await sb.events.page({ ...params, cursor });
      setRows((r) => (cursor ? [...r, ...page.data] : page.data));
      setNext(page.next_cursor);
      setSearched(params);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    select(undefined);
    const given = (v: string) => (v.trim() === "" ? undefined : v.trim());
    const params: Params = {
      topic: given(form.topic),
      type: given(form.type),
      key: given(form.key),
      filter: given(form.filter),
      from: rangeEnd(form.from, form.start),
      to: rangeEnd(form.to, form.end),
      data: dataFields(form.fields),
      order: "desc",
      limit: 100,
    };
    void fetchPage(params, undefined);
  };
  const field = (name: keyof Search) => ({ value: form[name], onChange: (e: { target: { value: string } }) => setForm({ ...form, [name]: e.target.value }) });

  return (
    <>
      <form className="panel" onSubmit={submit} aria-label="Search events">
        <div className="row">
          <label>
            Topic
            <input {...field("topic")} placeholder="orders.*" />
          </label>
          <label>
            Type
            <input {...field("type")} />
          </label>
          <label>
            Key
            <input {...field("key")} />
          </label>
          <RangeEnd label="From" at="Start" open="any time" choice={field("from")} time={field("start")} />
          <RangeEnd label="Until" at="End" open="now" choice={field("to")} time={field("end")} />
        </div>
        <label>
          Data fields
          <input {...field("fields")} placeholder="user_id=123, action=login" />
        </label>
        <label>
          CEL filter
          <input {...field("filter")} placeholder='data.total > 100 && type == "created"' />
        </label>
        {rangeError && <p className="error">{rangeError}</p>}
        <button type="submit" disabled={busy || rangeError !== undefined}>
          Search
        </button>
      </form>
      <ErrorText error={error} />
      <div className="split">
        <EventTable events={rows} selected={open?.id} onSelect={select} columns={[COLUMNS.time, COLUMNS.topic, COLUMNS.type, COLUMNS.key, COLUMNS.id]} />
        {open && <EventPanel event={open} onClose={() => select(undefined)} />}
      </div>
      {next && (
        <button type="button" disabled={busy} onClick={() => searched && void fetchPage(searched, next)}>
          More
        </button>
      )}
      {rows.length === 0 && next !== undefined && !error && <p className="muted">No events match.</p>}
    </>
  );
}

/** An end of the range as an RFC 3339 time: `15m`, `1h`, `24h`, `7d` before now, or the `datetime-local` value. */
export function rangeEnd(choice: string, at: string, now = Date.now()): string | undefined {
  if (choice === "at") return at ? new Date(at).toISOString() : undefined;
  const m = /^(\d+)([mhd])$/.exec(choice);
  if (!m) return undefined;
  const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
  return new Date(now - ms).toISOString();
}

/** A range whose start is not before its end (compared as of now); undefined when it is fine. */
function rangeProblem(form: Search): string | undefined {
  const now = Date.now();
  const from = rangeEnd(form.from, form.start, now);
  const to = rangeEnd(form.to, form.end, now);
  if (from !== undefined && to !== undefined && from >= to) return "the range is empty: its start is not before its end";
  return undefined;
}

/** `user_id=123, action=login` as the search's data equalities (the hub types numbers, true, false and null). */
function dataFields(text: string): Record<string, string> | undefined {
  const pairs = text
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter((p) => p.includes("="))
    .map((p) => [p.slice(0, p.indexOf("=")).trim(), p.slice(p.indexOf("=") + 1).trim()] as const)
    .filter(([k]) => k !== "");
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs);
}

/** What `field` gives an input: its value and its change handler. */
type FieldProps = { value: string; onChange: (e: { target: { value: string } }) => void };

/**
 * One end of the range: open (`open`), a time before now, or "a time…", which shows a date and time input (`at`).
 */
function RangeEnd({ label, at, open, choice, time }: { label: string; at: string; open: string; choice: FieldProps; time: FieldProps }) {
  return (
    <>
      <label>
        {label}
        <select {...choice}>
          <option value="">{open}</option>
          {AGO.map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
          <option value="at">a time…</option>
        </select>
      </label>
      {choice.value === "at" && (
        <label>
          {at}
          <input type="datetime-local" step="1" {...time} required />
        </label>
      )}
    </>
  );
}
