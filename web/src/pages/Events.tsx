import { useState, type FormEvent } from "react";
import { sb, type EventEnvelope } from "../api";
import { EventPanel } from "../EventDetail";
import { COLUMNS, EventTable } from "../EventTable";
import { ErrorText, errorText } from "../hooks";

interface Search {
  topic: string;
  type: string;
  key: string;
  from: string;
  /** `datetime-local` values, when `from` is "range". */
  start: string;
  end: string;
  /** `field=value` pairs, one per line or comma-separated: equality on top-level data fields. */
  fields: string;
  filter: string;
}

/** Search stored events (topic, type, key, a relative or absolute range, data fields, CEL), page by page; open one. */
export function Events() {
  const [form, setForm] = useState<Search>({ topic: "", type: "", key: "", from: "", start: "", end: "", fields: "", filter: "" });
  const [rows, setRows] = useState<EventEnvelope[]>([]);
  const [next, setNext] = useState<string | null | undefined>();
  const [open, setOpen] = useState<EventEnvelope | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const fetchPage = async (cursor: string | undefined) => {
    setBusy(true);
    setError(undefined);
    try {
      const given = (v: string) => (v.trim() === "" ? undefined : v.trim());
      const params = {
        topic: given(form.topic),
        type: given(form.type),
        key: given(form.key),
        filter: given(form.filter),
        from: form.from === "range" ? localTime(form.start) : fromParam(form.from),
        to: form.from === "range" ? localTime(form.end) : undefined,
        data: dataFields(form.fields),
        order: "desc",
        limit: 100,
        cursor,
      };
      const page = await sb.events.page(params);
      setRows((r) => (cursor ? [...r, ...page.data] : page.data));
      setNext(page.next_cursor);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setOpen(undefined);
    void fetchPage(undefined);
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
          <label>
            From
            <select {...field("from")}>
              <option value="">any time</option>
              <option value="15m">last 15 minutes</option>
              <option value="1h">last hour</option>
              <option value="24h">last 24 hours</option>
              <option value="7d">last 7 days</option>
              <option value="range">between…</option>
            </select>
          </label>
        </div>
        {form.from === "range" && (
          <div className="row">
            <label>
              Start
              <input type="datetime-local" step="1" {...field("start")} />
            </label>
            <label>
              End
              <input type="datetime-local" step="1" {...field("end")} />
            </label>
          </div>
        )}
        <label>
          Data fields
          <input {...field("fields")} placeholder="user_id=123, action=login" />
        </label>
        <label>
          CEL filter
          <input {...field("filter")} placeholder='data.total > 100 && type == "created"' />
        </label>
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      <ErrorText error={error} />
      <div className="split">
        <EventTable events={rows} selected={open?.id} onSelect={setOpen} columns={[COLUMNS.time, COLUMNS.topic, COLUMNS.type, COLUMNS.key, COLUMNS.id]} />
        {open && <EventPanel event={open} onClose={() => setOpen(undefined)} />}
      </div>
      {next && (
        <button type="button" disabled={busy} onClick={() => void fetchPage(next)}>
          More
        </button>
      )}
      {rows.length === 0 && next !== undefined && !error && <p className="muted">No events match.</p>}
    </>
  );
}

/** `15m`, `1h`, `24h`, `7d` before now, as an RFC 3339 time. */
function fromParam(relative: string): string | undefined {
  const m = /^(\d+)([mhd])$/.exec(relative);
  if (!m) return undefined;
  const ms = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"];
  return new Date(Date.now() - ms).toISOString();
}

/** A `datetime-local` value (the browser's local time) as an RFC 3339 time; undefined when empty. */
function localTime(value: string): string | undefined {
  return value ? new Date(value).toISOString() : undefined;
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
