import { describe, expect, it } from "vitest";
import type { DeliveryStatus } from "../../store/store.js";
import { DeliveryQueue, type Job, type QueueSnapshot } from "./delivery-queue.js";

/** A delivery `id` of key `key` (null: none), due at `due`, pending unless said. */
function job(id: string, key: string | null, due = 0, status: DeliveryStatus = "pending"): Job {
  return {
    id,
    subscriptionId: "sub_1",
    eventSeq: 1,
    eventId: `evt_${id}`,
    orderingKey: key,
    status,
    attempts: status === "retrying" ? 1 : 0,
    nextAttemptAt: due,
    lastStatus: null,
    lastError: null,
    createdAt: 0,
    updatedAt: 0,
    deliveredAt: null,
  };
}

type Op =
  ["admit", Job, number] | ["take"] | ["close", string, number] | ["retry", string, number] | ["due", number, string[] | undefined] | ["readyFirst", string[]];

/** Runs `ops` on a queue; `take`/`close`/`retry` act on jobs by id. */
function run(byKey: boolean, ops: Op[]): QueueSnapshot {
  const queue = new DeliveryQueue(byKey);
  const jobs = new Map<string, Job>();
  for (const op of ops) {
    switch (op[0]) {
      case "admit":
        jobs.set(op[1].id, op[1]);
        queue.admit(op[1], op[2]);
        break;
      case "take":
        queue.takeReady();
        break;
      case "close":
        queue.close(jobs.get(op[1])!, op[2]);
        break;
      case "retry": {
        const j = jobs.get(op[1])!;
        j.status = "retrying";
        j.nextAttemptAt = op[2];
        queue.wait(j);
        break;
      }
      case "due":
        expect(queue.takeDue(op[1])?.map((j) => j.id)).toEqual(op[2]);
        break;
      case "readyFirst":
        queue.readyFirst(op[1].map((id) => jobs.get(id)!));
        break;
    }
  }
  return queue.snapshot();
}

const none: Record<string, string[]> = {};

describe("DeliveryQueue", () => {
  const table: [string, boolean, Op[], Omit<QueueSnapshot, "open"> & { open?: string[] }][] = [
    [
      "due now: ready in log order",
      false,
      [
        ["admit", job("a", null), 0],
        ["admit", job("b", null), 0],
      ],
      { ready: ["a", "b"], waiting: [], parked: none },
    ],
    [
      "due later: waiting by time",
      false,
      [
        ["admit", job("a", null, 30), 0],
        ["admit", job("b", null, 10), 0],
        ["admit", job("c", null, 20), 0],
      ],
      { ready: [], waiting: ["b", "c", "a"], parked: none },
    ],
    [
      "admitted twice: once",
      false,
      [
        ["admit", job("a", null), 0],
        ["admit", job("a", null), 0],
      ],
      { ready: ["a"], waiting: [], parked: none },
    ],
    [
      "unordered: keys ignored",
      false,
      [
        ["admit", job("a", "k"), 0],
        ["admit", job("b", "k"), 0],
      ],
      { ready: ["a", "b"], waiting: [], parked: none },
    ],
    [
      "by key: the second of a key is parked",
      true,
      [
        ["admit", job("a", "k"), 0],
        ["admit", job("b", "k"), 0],
        ["admit", job("c", "j"), 0],
      ],
      { ready: ["a", "c"], waiting: [], parked: { k: ["b"] } },
    ],
    [
      "by key: null keys never park",
      true,
      [
        ["admit", job("a", null), 0],
        ["admit", job("b", null), 0],
      ],
      { ready: ["a", "b"], waiting: [], parked: none },
    ],
    [
      "by key: closing the first unparks the next",
      true,
      [["admit", job("a", "k"), 0], ["admit", job("b", "k"), 0], ["take"], ["close", "a", 0]],
      { ready: ["b"], waiting: [], parked: none, open: ["b"] },
    ],
    [
      "by key: an unparked delivery not yet due waits",
      true,
      [["admit", job("a", "k"), 0], ["admit", job("b", "k", 50), 0], ["take"], ["close", "a", 10]],
      { ready: [], waiting: ["b"], parked: none, open: ["b"] },
    ],
    [
      "by key: a retry keeps its key busy",
      true,
      [["admit", job("a", "k"), 0], ["admit", job("b", "k"), 0], ["take"], ["retry", "a", 100]],
      { ready: [], waiting: ["a"], parked: { k: ["b"] }, open: ["a", "b"] },
    ],
    [
      "due: first attempts to ready, retries out to claim",
      false,
      [
        ["admit", job("a", null, 10), 0],
        ["admit", job("b", null, 20, "retrying"), 0],
        ["admit", job("c", null, 90), 0],
        ["due", 50, ["b"]],
      ],
      { ready: ["a"], waiting: ["c"], parked: none, open: ["a", "b", "c"] },
    ],
    [
      "claimed retries go before the ready ones",
      false,
      [
        ["admit", job("a", null, 10, "retrying"), 0],
        ["admit", job("b", null), 20],
        ["due", 20, ["a"]],
        ["readyFirst", ["a"]],
      ],
      { ready: ["a", "b"], waiting: [], parked: none },
    ],
    [
      "a retry another node delivered (or killed) leaves, the key moves on",
      true,
      [
        ["admit", job("a", "k", 10, "retrying"), 0],
        ["admit", job("b", "k"), 0],
        ["due", 20, ["a"]],
        ["close", "a", 20],
      ],
      { ready: ["b"], waiting: [], parked: none, open: ["b"] },
    ],
  ];

  it.each(table)("%s", (_name, byKey, ops, expected) => {
    const state = run(byKey, ops);
    expect({ ready: state.ready, waiting: state.waiting, parked: state.parked }).toEqual({
      ready: expected.ready,
      waiting: expected.waiting,
      parked: expected.parked,
    });
    if (expected.open) expect(state.open.sort()).toEqual(expected.open);
  });

  it("drops the event of a waiting delivery (read again when due)", () => {
    const queue = new DeliveryQueue(false);
    const j: Job = { ...job("a", null, 100), event: {} as Job["event"] };
    queue.admit(j, 0);
    expect(j.event).toBeUndefined();
    expect(queue.nextDueAt).toBe(100);
  });
});
