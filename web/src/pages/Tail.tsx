import { useEffect, useRef, useState, type FormEvent } from "react";
import { sb, type EventEnvelope } from "../api";
import { EventPanel } from "../EventDetail";
import { COLUMNS, EventTable } from "../EventTable";
import { ErrorText, errorText } from "../hooks";

/** Events kept on screen. */
const KEEP = 500;

/**
 * Live events over SSE for a topic pattern and filter: pause (the table stands still, new events are held) and resume
 * (they are shown), the rate, the last {@link KEEP}; click one to open it.
 */
export function Tail() {
  const [topic, setTopic] = useState("**");
  const [filter, setFilter] = useState("");
  const [running, setRunning] = useState<{ topic: string; filter: string } | undefined>();
  const [paused, setPaused] = useState(false);
  const [events, setEvents] = useState<EventEnvelope[]>([]);
  const [rate, setRate] = useState(0);
  const [waiting, setWaiting] = useState(0);
  const [state, setState] = useState("stopped");
  const [open, setOpen] = useState<EventEnvelope | undefined>();
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    if (!running) return;
    let count = 0;
    let buffer: EventEnvelope[] = [];
    // The SDK's stream: it reconnects by itself and resumes after the last event, with no gap and no duplicate.
    const stream = sb.stream({
      topics: [running.topic],
      filter: running.filter || undefined,
      onOpen: () => setState("live"),
      onReconnect: () => setState("reconnecting"),
    });
    void (async () => {
      try {
        for await (const event of stream) {
          count++;
          buffer.push(event);
        }
      } catch (err) {
        // A refusal a retry cannot fix (a bad filter, a missing scope): its details, with the caret of a filter error.
        setError(errorText(err));
        setState("closed");
      }
    })();
    // One render a tick, however fast events come.
    // While paused the table stands still and the events that come are held (the last KEEP), shown on resume.
    const flush = setInterval(() => {
      if (buffer.length === 0) return;
      if (pausedRef.current) {
        if (buffer.length > KEEP) buffer = buffer.slice(-KEEP);
        setWaiting(buffer.length);
        return;
      }
      const batch = buffer.reverse();
      buffer = [];
      setWaiting(0);
      setEvents((old) => [...batch, ...old].slice(0, KEEP));
    }, 250);
    const meter = setInterval(() => {
      setRate(count);
      count = 0;
    }, 1000);
    return () => {
      void stream.return();
      clearInterval(flush);
      clearInterval(meter);
      setState("stopped");
    };
  }, [running]);

  const start = (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setEvents([]);
    setWaiting(0);
    setState("connecting");
    setRunning({ topic: topic.trim() || "**", filter: filter.trim() });
  };
  return (
    <>
      <form className="panel" onSubmit={start} aria-label="Live tail">
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
          {paused && `, paused${waiting > 0 ? `, ${waiting} new held` : ""}`}
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
