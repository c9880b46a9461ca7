import { useEffect, useState } from "react";
import { sb, type Delivery } from "../api";
import { shortTime } from "../format";
import { ErrorText, errorText } from "../hooks";

/**
 * A subscription's deliveries, newest first, by status, 50 at a time with "More"; a dead one can be sent again from
 * its row. Reads again when `changes` changes (after a retry or a replay) and on "Refresh".
 */
export function DeliveryLog({ subscriptionId, changes }: { subscriptionId: string; changes: number }) {
  const [status, setStatus] = useState("");
  const [rows, setRows] = useState<Delivery[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const [reads, setReads] = useState(0);
  const load = async (cursor: string | undefined, isCurrent: () => boolean = () => true) => {
    setError(undefined);
    try {
      const page = await sb.deliveries.page({ subscription: subscriptionId, status: status || undefined, limit: 50, cursor });
      if (!isCurrent()) return;
      setRows((old) => (cursor && old ? [...old, ...page.data] : page.data));
      setNext(page.next_cursor);
    } catch (e) {
      if (isCurrent()) setError(errorText(e));
    }
  };
  useEffect(() => {
    // A read that a newer one overtook (the status changed meanwhile) is dropped.
    let current = true;
    void load(undefined, () => current);
    return () => {
      current = false;
    };
    // `load` reads the state named here.
  }, [subscriptionId, status, changes, reads]);
  const retry = async (d: Delivery) => {
    try {
      await sb.deliveries.retry(d.id);
      setReads((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section aria-label="Deliveries">
      <h3>Deliveries</h3>
      <div className="row">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">all</option>
            <option value="pending">pending</option>
            <option value="retrying">retrying</option>
            <option value="delivered">delivered</option>
            <option value="dead">dead</option>
          </select>
        </label>
        <button type="button" onClick={() => setReads((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <ErrorText error={error} />
      <div className="scroller log">
        <table aria-label="Delivery log">
          <thead>
            <tr>
              <th>Created</th>
              <th>Status</th>
              <th className="num">Attempts</th>
              <th>Last answer</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows?.map((d) => (
              <tr key={d.id}>
                <td title={d.created_at}>{shortTime(d.created_at)}</td>
                <td>{d.status}</td>
                <td className="num">{d.attempt_count}</td>
                <td>{d.last_status ?? d.last_error ?? "—"}</td>
                <td>
                  {d.status === "dead" && (
                    <button type="button" onClick={() => void retry(d)} aria-label={`Retry delivery ${d.id}`}>
                      Retry
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows?.length === 0 && <p className="muted">No deliveries.</p>}
      {next && (
        <button type="button" onClick={() => void load(next)}>
          More
        </button>
      )}
    </section>
  );
}
