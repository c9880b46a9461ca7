import { useState } from "react";
import { api, type Page, type Subscription } from "../api";
import { errorText, useLoad } from "../hooks";

/** Subscriptions with their health; pause and resume. */
export function Subscriptions() {
  const { value, error, reload } = useLoad(() => api<Page<Subscription>>("GET", "/subscriptions"));
  const [actionError, setActionError] = useState<string | undefined>();
  const act = async (s: Subscription, action: "pause" | "resume") => {
    try {
      await api("POST", `/subscriptions/${s.id}/${action}`);
      reload();
    } catch (e) {
      setActionError(errorText(e));
    }
  };
  if (error) return <p className="error">{error}</p>;
  if (!value) return <p className="muted">Loading…</p>;
  return (
    <>
      {actionError && <p className="error">{actionError}</p>}
      <table>
        <thead>
          <tr>
            <th>Health</th>
            <th>Topic</th>
            <th>Destination</th>
            <th>Filter</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {value.data.map((s) => (
            <tr key={s.id}>
              <td>{health(s)}</td>
              <td>
                <code>{s.topic}</code>
              </td>
              <td>
                <code>{s.url}</code>
              </td>
              <td>{s.filter ? <code>{s.filter}</code> : "—"}</td>
              <td>
                <button type="button" onClick={() => void act(s, s.active ? "pause" : "resume")}>
                  {s.active ? "Pause" : "Resume"}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {value.data.length === 0 && <p className="muted">No subscriptions yet.</p>}
    </>
  );
}

function health(s: Subscription): string {
  if (!s.active) return s.disabled_reason ? `disabled: ${s.disabled_reason}` : "paused";
  return s.failing_since ? `failing since ${s.failing_since}` : "healthy";
}
