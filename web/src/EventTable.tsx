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
 * smoothly as 10. Click a row or press Enter on it to select it; arrow keys move between rows; the table is one Tab stop.
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
  // The first row in view, not the scroll offset: a scroll within a row's height renders nothing again.
  const [top, setTop] = useState(0);
  const first = Math.max(0, top - OVERSCAN);
  const last = Math.min(events.length, first + VIEW_ROWS + 2 * OVERSCAN);
  const shown = events.slice(first, last);
  // One Tab stop for the whole table (the row last focused, else the selected one, else the first in view); the
  // arrow keys move between rows, so that Tab goes past 10,000 rows in one press.
  const [focused, setFocused] = useState<string | undefined>();
  const stop = shown.find((e) => e.id === (focused ?? selected))?.id ?? shown[0]?.id;
  const onKey = (k: KeyboardEvent<HTMLTableRowElement>, e: EventEnvelope) => {
    if (k.key === "Enter") onSelect(e);
    const next = k.key === "ArrowDown" ? k.currentTarget.nextElementSibling : k.key === "ArrowUp" ? k.currentTarget.previousElementSibling : null;
    if (next instanceof HTMLTableRowElement && next.dataset.row !== undefined) {
      k.preventDefault();
      next.focus();
    }
  };
  return (
    <div className="scroller" style={{ maxHeight: VIEW_ROWS * ROW_PX + 36 }} onScroll={(s) => setTop(Math.floor(s.currentTarget.scrollTop / ROW_PX))}>
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
          {shown.map((e) => (
            <tr
              key={e.id}
              data-row=""
              tabIndex={e.id === stop ? 0 : -1}
              onFocus={() => setFocused(e.id)}
              style={{ height: ROW_PX }}
              aria-selected={selected === e.id}
              onClick={() => onSelect(e)}
              onKeyDown={(k) => onKey(k, e)}
            >
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
