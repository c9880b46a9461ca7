import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, query, type EventEnvelope } from "../api";
import { COLUMNS, EventPanel, EventTable } from "../EventTable";
import { ErrorText, errorText } from "../hooks";

/** Events kept on screen. */
const KEEP = 500;

/** Live events over SSE for a topic pattern and filter: pause and resume, the rate, the last {@link KEEP}. */
export function Tail() {
  const [topic, setTopic] = useState("**");
  const [filter, setFilter] = useState("");
  const [running, setRunning] = useState<{ topic: string; filter: string } | undefined>();
  const [paused, setPaused] = useState(false);
  const [events, setEvents] = useState<EventEnvelope[]>([]);
  const [rate, setRate] = useState(0);
  const [state, setState] = useState("stopped");
  const [open, setOpen] = useState<EventEnvelope | undefined>();
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    if (!running) return;
    const source = new EventSource(`/events${query({ topic: running.topic, filter: running.filter, envelope: "true" })}`, { withCredentials: true });
    let count = 0;
    let buffer: EventEnvelope[] = [];
    source.onopen = () => setState("live");
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    source.onmessage = (m) => {
      count++;
      if (!pausedRef.current) buffer.push(JSON.parse(m.data as string) as EventEnvelope);
    };
    // One render a tick, however fast events come.
    const flush = setInterval(() => {
      if (buffer.length === 0) return;
      const batch = buffer.reverse();
      buffer = [];
      setEvents((old) => [...batch, ...old].slice(0, KEEP));
    }, 250);
    const meter = setInterval(() => {
      setRate(count);
      count = 0;
    }, 1000);
    return () => {
      source.close();
      clearInterval(flush);
      clearInterval(meter);
      setState("stopped");
    };
  }, [running]);

  const [error, setError] = useState<string | undefined>();
  const start = async (e: FormEvent) => {
    e.preventDefault();
    const selection = { topic: topic.trim() || "**", filter: filter.trim() };
    // An EventSource never sees the body of a refusal: the same selection is checked by a search first.
    setError(undefined);
    try {
      await api("GET", `/events${query({ ...selection, limit: 1 })}`);
    } catch (err) {
      setError(errorText(err));
      setRunning(undefined);
      return;
    }
    setEvents([]);
    setRunning(selection);
  };
  return (
    <>
      <form className="panel" onSubmit={(e) => void start(e)} aria-label="Live tail">
        <div className="row">
          <label>
            Topic pattern
            <input value={topic} onChange={(e) => setTopic(e.target.value)} />
          </label>
          <label>
            CEL filter
            <input value={filter} onChange={(e) => setFilter(e.target.value)} />
          </label>
        </div>
        <button type="submit">{running ? "Restart" : "Start"}</button>{" "}
        <button type="button" disabled={!running} onClick={() => setPaused((p) => !p)}>
          {paused ? "Resume" : "Pause"}
        </button>{" "}
        <span className="muted" role="status">
          {state}
          {running && `, ${rate}/s`}
          {paused && ", paused"}
        </span>
      </form>
      <ErrorText error={error} />
      <div className="split">
        <EventTable events={events} selected={open?.id} onSelect={setOpen} columns={[COLUMNS.time, COLUMNS.topic, COLUMNS.id]} />
        {open && <EventPanel event={open} onClose={() => setOpen(undefined)} />}
      </div>
    </>
  );
}
