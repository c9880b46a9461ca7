import { useEffect, useState, type FormEvent } from "react";
import { sb } from "../api";
import { ErrorText, errorText } from "../hooks";

/** How the deliveries made since the replay stand: counted from the delivery log until none is open. */
interface Progress {
  replayed: number;
  since: string;
  delivered: number;
  dead: number;
  open: number;
}

/**
 * Replays a time range to a subscription, after a confirmation; then shows its progress: the events replayed, and
 * how the deliveries made since stand (delivered, dead, still on their way), read every second until none is open.
 */
export function Replay({ subscriptionId, onReplayed }: { subscriptionId: string; onReplayed: () => void }) {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Progress | undefined>();
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const range = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    if (!window.confirm(`Send every event from ${range.from} to ${range.to} to this subscription again?`)) return;
    setBusy(true);
    setError(undefined);
    setProgress(undefined);
    const since = new Date().toISOString();
    try {
      const { replayed } = await sb.subscriptions.replay(subscriptionId, range);
      setProgress({ replayed, since, delivered: 0, dead: 0, open: replayed });
      onReplayed();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const following = progress !== undefined && progress.open > 0;
  useEffect(() => {
    if (!following) return;
    let current = true;
    const timer = setTimeout(() => {
      void countSince(subscriptionId, progress.since).then(
        (counts) => current && setProgress({ ...progress, ...counts }),
        () => {},
      );
    }, 1000);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [following, progress, subscriptionId]);
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Replay" className="row">
      <label>
        Replay from
        <input type="datetime-local" step="1" value={from} onChange={(e) => setFrom(e.target.value)} required />
      </label>
      <label>
        to
        <input type="datetime-local" step="1" value={to} onChange={(e) => setTo(e.target.value)} required />
      </label>
      <button type="submit" disabled={!from || !to || busy}>
        Replay
      </button>
      {busy && (
        <p role="status" className="muted">
          Replaying…
        </p>
      )}
      {progress && (
        <p role="status" className="replay-progress">
          {progress.replayed} events replayed
          {progress.replayed > 0 && `: ${progress.delivered} delivered, ${progress.dead} dead, ${progress.open} on the way`}
        </p>
      )}
      <ErrorText error={error} />
    </form>
  );
}

/** The deliveries of the subscription created since `since`, by how they stand (the first 1000). */
async function countSince(subscription: string, since: string): Promise<Pick<Progress, "delivered" | "dead" | "open">> {
  const page = await sb.deliveries.page({ subscription, from: since, limit: 1000 });
  const counts = { delivered: 0, dead: 0, open: 0 };
  for (const d of page.data) {
    if (d.status === "delivered") counts.delivered++;
    else if (d.status === "dead") counts.dead++;
    else counts.open++;
  }
  return counts;
}
