import { useState } from "react";
import { sb } from "../api";
import { health } from "../format";
import { useLoad } from "../hooks";
import { SubscriptionDetail } from "./SubscriptionDetail";
import { SubscriptionForm } from "./SubscriptionForm";

/**
 * Subscriptions of every destination kind, and the in-process handlers (kind `function`), with their health; create
 * one; open one to edit it, for its secret, deliveries, retry and replay.
 */
export function Subscriptions() {
  const { value, error, reload } = useLoad(() => sb.subscriptions.list());
  const [openId, setOpenId] = useState<string | undefined>();
  if (error) return <p className="error">{error}</p>;
  if (!value) return <p className="muted">Loading…</p>;
  const open = value.find((s) => s.id === openId);
  return (
    <>
      <SubscriptionForm
        onSaved={(s) => {
          reload();
          setOpenId(s.id);
        }}
      />
      <div className="split">
        <table className="subs">
          <thead>
            <tr>
              <th>Health</th>
              <th>Topic</th>
              <th>Kind</th>
              <th>Destination</th>
              <th>Filter</th>
            </tr>
          </thead>
          <tbody>
            {value.map((s) => (
              <tr
                key={s.id}
                tabIndex={0}
                aria-selected={s.id === openId}
                onClick={() => setOpenId(s.id)}
                onKeyDown={(k) => k.key === "Enter" && setOpenId(s.id)}
              >
                <td>{health(s)}</td>
                <td>
                  <code>{s.topic}</code>
                </td>
                <td>{s.kind === "function" ? "handler" : s.kind}</td>
                <td>
                  <code>{s.kind === "function" ? s.name : s.url}</code>
                </td>
                <td>
                  {s.filter ? (
                    // A filter in another syntax (switch's) shows as written, its CEL translation on hover.
                    <code title={isCel(s) ? undefined : `CEL: ${s.filter_cel ?? ""}`}>{s.filter}</code>
                  ) : (
                    "—"
                  )}
                  {s.filter && !isCel(s) ? ` (${s.filter_syntax})` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {open && (
          <SubscriptionDetail
            key={open.id}
            sub={open}
            onChanged={reload}
            onClose={() => setOpenId(undefined)}
            onDeleted={() => {
              setOpenId(undefined);
              reload();
            }}
          />
        )}
      </div>
      {value.length === 0 && <p className="muted">No subscriptions yet.</p>}
    </>
  );
}

/** A filter written in CEL: the default, also for a subscription from a hub that does not say. */
function isCel(s: { filter_syntax?: string }): boolean {
  return s.filter_syntax === undefined || s.filter_syntax === "cel";
}
