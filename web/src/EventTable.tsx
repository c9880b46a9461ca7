import { useState, type KeyboardEvent, type ReactElement } from "react";
import type { EventEnvelope } from "./api";

/** Height of one row in px: fixed, so that only the rows in view need to exist. */
const ROW_PX = 33;
/** Rows rendered beyond the visible ones, above and below. */
const OVERSCAN = 10;
/** Height of the scrolling area in rows. */
const VIEW_ROWS = 18;

/**
 * Events as a table that renders only the rows in view (with spacers for the rest), so 10,000 rows scroll as
 * smoothly as 10. Click a row or press Enter on it to select it; arrow keys move between rows.
 */
export function EventTable({
  events,
  selected,
  onSelect,
  columns,
}: {
  events: EventEnvelope[];
  selected?: string;
  onSelect: (e: EventEnvelope) => void;
  columns: Column[];
}) {
  const [scrollTop, setScrollTop] = useState(0);
  const first = Math.max(0, Math.floor(scrollTop / ROW_PX) - OVERSCAN);
  const last = Math.min(events.length, first + VIEW_ROWS + 2 * OVERSCAN);
  const onKey = (k: KeyboardEvent<HTMLTableRowElement>, e: EventEnvelope) => {
    if (k.key === "Enter") onSelect(e);
    const next = k.key === "ArrowDown" ? k.currentTarget.nextElementSibling : k.key === "ArrowUp" ? k.currentTarget.previousElementSibling : null;
    if (next instanceof HTMLTableRowElement && next.tabIndex === 0) {
      k.preventDefault();
      next.focus();
    }
  };
  return (
    <div className="scroller" style={{ maxHeight: VIEW_ROWS * ROW_PX + 36 }} onScroll={(s) => setScrollTop(s.currentTarget.scrollTop)}>
      <table className="events">
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.title}>{c.title}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr aria-hidden="true" style={{ height: first * ROW_PX }} />}
          {events.slice(first, last).map((e) => (
            <tr key={e.id} tabIndex={0} style={{ height: ROW_PX }} aria-selected={selected === e.id} onClick={() => onSelect(e)} onKeyDown={(k) => onKey(k, e)}>
              {columns.map((c) => (
                <td key={c.title}>{c.cell(e)}</td>
              ))}
            </tr>
          ))}
          {last < events.length && <tr aria-hidden="true" style={{ height: (events.length - last) * ROW_PX }} />}
        </tbody>
      </table>
    </div>
  );
}

/** A column of {@link EventTable}. */
export interface Column {
  title: string;
  cell: (e: EventEnvelope) => string | ReactElement;
}

/** The usual columns. */
export const COLUMNS: Record<"time" | "topic" | "type" | "key" | "id", Column> = {
  time: { title: "Time", cell: (e) => e.time },
  topic: { title: "Topic", cell: (e) => <code>{e.topic}</code> },
  type: { title: "Type", cell: (e) => e.type ?? "" },
  key: { title: "Key", cell: (e) => e.key ?? "" },
  id: { title: "Id", cell: (e) => <code>{e.id}</code> },
};
