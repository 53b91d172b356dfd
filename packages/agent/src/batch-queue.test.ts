import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchQueue, type QueuedBatch, type QueueStats } from "./batch-queue.js";

/** Samples whose value is their id, so a batch's content says exactly which samples it holds. */
function samples(ids: readonly number[], metric = "m"): Sample[] {
  return ids.map((id) => ({ metric, labels: {}, value: id, ts: 1_000 + id }));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The sample ids a batch carries, in order. */
function idsOf(batch: QueuedBatch): number[] {
  return batch.series.flatMap((s) => [...s.values]);
}

function stats(q: BatchQueue): QueueStats {
  return q.stats();
}

describe("BatchQueue", () => {
  it("seals open samples into batches of at most batchMaxSamples, numbered from 1", () => {
    const q = new BatchQueue(1_000, 3);
    q.add(samples(range(1, 7)));
    expect(q.openSamples).toBe(7);
    expect(q.seal()).toBe(3);
    expect(q.openSamples).toBe(0);
    const batches = q.takeUnsent(10);
    expect(batches.map((b) => [b.seq, b.samples, idsOf(b), b.inFlight])).toEqual([
      [1, 3, [1, 2, 3], false],
      [2, 3, [4, 5, 6], false],
      [3, 1, [7], false],
    ]);
    expect(q.seal()).toBe(0);
    q.add(samples([8]));
    expect(q.seal()).toBe(1);
    expect(q.takeUnsent(10).map((b) => b.seq)).toEqual([1, 2, 3, 4]);
  });

  it("when full, drops the oldest batch never sent before one sent and awaiting its ack", () => {
    const q = new BatchQueue(1_000, 500);
    q.add(samples(range(1, 1_000)));
    q.seal();
    const [sent] = q.takeUnsent(1);
    q.markSent(sent as QueuedBatch);
    q.requeueInFlight(); // the stream broke: the server may or may not have stored batch 1
    q.add(samples(range(1_001, 1_500)));
    q.seal();
    expect(q.takeUnsent(10).map((b) => [b.seq, idsOf(b)[0]])).toEqual([
      [1, 1],
      [3, 1_001],
    ]);
    expect(stats(q)).toMatchObject({ dropped: 500, held: 1_000 });
  });

  it("seals exactly batchMaxSamples into one batch", () => {
    const q = new BatchQueue(1_000, 4);
    q.add(samples(range(1, 4)));
    expect(q.seal()).toBe(1);
    expect(q.takeUnsent(10).map(idsOf)).toEqual([[1, 2, 3, 4]]);
  });

  it("groups a batch's samples by series in columnar form", () => {
    const q = new BatchQueue(1_000, 10);
    q.add([
      { metric: "cpu_usage_percent", labels: { cpu: "0" }, value: 5, ts: 10_000 },
      { metric: "cpu_usage_percent", labels: { cpu: "1" }, value: 6, ts: 10_000 },
      { metric: "cpu_usage_percent", labels: { cpu: "0" }, value: 7, ts: 20_000 },
    ]);
    q.seal();
    expect(q.takeUnsent(1)[0]?.series).toEqual([
      { metric: "cpu_usage_percent", labels: { cpu: "0" }, timestamps: [10_000, 20_000], values: [5, 7] },
      { metric: "cpu_usage_percent", labels: { cpu: "1" }, timestamps: [10_000], values: [6] },
    ]);
  });

  it("hands out unsent batches oldest first, up to the limit, skipping those in flight", () => {
    const q = new BatchQueue(1_000, 1);
    q.add(samples(range(1, 5)));
    q.seal();
    const first = q.takeUnsent(2);
    expect(first.map((b) => b.seq)).toEqual([1, 2]);
    for (const b of first) b.inFlight = true;
    expect(q.inFlightCount).toBe(2);
    expect(q.takeUnsent(2).map((b) => b.seq)).toEqual([3, 4]);
    expect(q.takeUnsent(0)).toEqual([]);
  });

  it("ack removes the batch and counts its samples; unknown or repeated seqs change nothing", () => {
    const q = new BatchQueue(1_000, 2);
    q.add(samples(range(1, 5)));
    q.seal();
    expect(q.ack(2)).toBe(2);
    expect(stats(q)).toEqual({ collected: 5, acked: 2, dropped: 0, rejected: 0, held: 3 });
    expect(q.ack(2)).toBe(0);
    expect(q.ack(99)).toBe(0);
    expect(stats(q)).toEqual({ collected: 5, acked: 2, dropped: 0, rejected: 0, held: 3 });
    expect(q.takeUnsent(10).map((b) => b.seq)).toEqual([1, 3]);
    expect(q.ack(1)).toBe(2);
    expect(q.ack(3)).toBe(1);
    expect(q.isEmpty).toBe(true);
    expect(stats(q)).toEqual({ collected: 5, acked: 5, dropped: 0, rejected: 0, held: 0 });
  });

  it("does not count open (unsealed) samples as empty", () => {
    const q = new BatchQueue(1_000, 2);
    expect(q.isEmpty).toBe(true);
    q.add(samples([1]));
    expect(q.isEmpty).toBe(false);
  });

  it("reject removes the batch for good and counts it as rejected", () => {
    const q = new BatchQueue(1_000, 2);
    q.add(samples(range(1, 3)));
    q.seal();
    expect(q.reject(1)).toBe(2);
    expect(q.reject(1)).toBe(0);
    expect(stats(q)).toEqual({ collected: 3, acked: 0, dropped: 0, rejected: 2, held: 1 });
    expect(q.takeUnsent(10).map((b) => b.seq)).toEqual([2]);
  });

  it("retryLater makes one in-flight batch sendable again; requeueInFlight all of them", () => {
    const q = new BatchQueue(1_000, 1);
    q.add(samples(range(1, 3)));
    q.seal();
    for (const b of q.takeUnsent(3)) b.inFlight = true;
    expect(q.takeUnsent(3)).toEqual([]);
    q.retryLater(2);
    q.retryLater(42);
    expect(q.inFlightCount).toBe(2);
    expect(q.takeUnsent(3).map((b) => b.seq)).toEqual([2]);
    q.requeueInFlight();
    expect(q.inFlightCount).toBe(0);
    expect(q.takeUnsent(3).map((b) => b.seq)).toEqual([1, 2, 3]);
    // nothing was lost or counted on the way
    expect(stats(q)).toEqual({ collected: 3, acked: 0, dropped: 0, rejected: 0, held: 3 });
  });

  it("drops the oldest sealed batch first when the bound is passed, and counts it", () => {
    const q = new BatchQueue(5, 2);
    q.add(samples(range(1, 4)));
    q.seal(); // [1,2] [3,4]
    q.add(samples(range(5, 7))); // held 7 > 5: batch [1,2] goes
    expect(stats(q)).toEqual({ collected: 7, acked: 0, dropped: 2, rejected: 0, held: 5 });
    expect(q.ack(1)).toBe(0);
    q.seal();
    expect(q.takeUnsent(10).map((b) => [b.seq, idsOf(b)])).toEqual([
      [2, [3, 4]],
      [3, [5, 6]],
      [4, [7]],
    ]);
  });

  it("drops a batch even while it is in flight; its late ack is ignored", () => {
    const q = new BatchQueue(4, 2);
    q.add(samples(range(1, 4)));
    q.seal();
    const [first] = q.takeUnsent(1);
    if (first) first.inFlight = true;
    q.add(samples([5]));
    expect(q.inFlightCount).toBe(0);
    expect(q.ack(1)).toBe(0);
    expect(stats(q)).toEqual({ collected: 5, acked: 0, dropped: 2, rejected: 0, held: 3 });
  });

  it("drops the oldest open samples when nothing is sealed", () => {
    const q = new BatchQueue(5, 10);
    q.add(samples(range(1, 3)));
    q.add(samples(range(4, 8)));
    expect(stats(q)).toEqual({ collected: 8, acked: 0, dropped: 3, rejected: 0, held: 5 });
    expect(q.openSamples).toBe(5);
    q.seal();
    expect(q.takeUnsent(10).map(idsOf)).toEqual([[4, 5, 6, 7, 8]]);
  });

  it("drops sealed batches before open samples, then open samples once no batch is left", () => {
    const q = new BatchQueue(3, 2);
    q.add(samples(range(1, 2)));
    q.seal(); // [1,2]
    q.add(samples(range(3, 7))); // held 7: drop [1,2] → 5, then 2 oldest open → 3
    expect(stats(q)).toEqual({ collected: 7, acked: 0, dropped: 4, rejected: 0, held: 3 });
    q.seal();
    expect(q.takeUnsent(10).map(idsOf)).toEqual([[5, 6], [7]]);
  });

  describe("model test over random operation sequences", () => {
    type Op =
      | { kind: "add"; n: number }
      | { kind: "seal" }
      | { kind: "send"; n: number }
      | { kind: "ack"; pick: number }
      | { kind: "reject"; pick: number }
      | { kind: "retryLater"; pick: number }
      | { kind: "requeue" };

    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), n: fc.integer({ min: 0, max: 12 }) }),
      fc.constant({ kind: "seal" as const }),
      fc.record({ kind: fc.constant("send" as const), n: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant("ack" as const), pick: fc.nat({ max: 20 }) }),
      fc.record({ kind: fc.constant("reject" as const), pick: fc.nat({ max: 20 }) }),
      fc.record({ kind: fc.constant("retryLater" as const), pick: fc.nat({ max: 20 }) }),
      fc.constant({ kind: "requeue" as const }),
    );

    /** A plain reference: which sample ids are open, which batches are sealed, and how each sample ended. */
    class Model {
      open: number[] = [];
      sealed: { seq: number; ids: number[]; inFlight: boolean }[] = [];
      nextSeq = 1;
      outcome = new Map<number, "acked" | "dropped" | "rejected">();
      collected = 0;
      constructor(
        readonly max: number,
        readonly batchMax: number,
      ) {}
      held(): number {
        return this.open.length + this.sealed.reduce((n, b) => n + b.ids.length, 0);
      }
      count(kind: "acked" | "dropped" | "rejected"): number {
        let n = 0;
        for (const v of this.outcome.values()) if (v === kind) n++;
        return n;
      }
    }

    it("keeps collected = acked + dropped + rejected + held, the bound, and every sample's fate", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 1, max: 8 }),
          fc.array(op, { maxLength: 60 }),
          (max, batchMax, ops) => {
            const q = new BatchQueue(max, batchMax);
            const m = new Model(max, batchMax);
            let nextId = 1;
            // seq → sample ids, as the queue handed them out
            const seen = new Map<number, number[]>();
            const remember = (bs: QueuedBatch[]) => {
              for (const b of bs) seen.set(b.seq, idsOf(b));
            };
            const seqAt = (pick: number) => {
              const all = [...q.takeUnsent(1_000), ...m.sealed.filter((b) => b.inFlight)];
              const seqs = [...new Set(all.map((b) => b.seq))].sort((a, b) => a - b);
              // sometimes a seq that is gone or never existed
              return seqs.length === 0 || pick >= seqs.length * 2
                ? pick + 100
                : (seqs[pick % seqs.length] as number);
            };
            for (const o of ops) {
              switch (o.kind) {
                case "add": {
                  const ids = range(nextId, nextId + o.n - 1);
                  nextId += o.n;
                  q.add(samples(ids));
                  m.open.push(...ids);
                  m.collected += ids.length;
                  while (m.held() > m.max) {
                    const oldest = m.sealed.shift();
                    if (oldest) for (const id of oldest.ids) m.outcome.set(id, "dropped");
                    else for (const id of m.open.splice(0, m.held() - m.max)) m.outcome.set(id, "dropped");
                  }
                  break;
                }
                case "seal": {
                  let made = 0;
                  while (m.open.length > 0) {
                    m.sealed.push({ seq: m.nextSeq++, ids: m.open.splice(0, m.batchMax), inFlight: false });
                    made++;
                  }
                  expect(q.seal()).toBe(made);
                  break;
                }
                case "send": {
                  const taken = q.takeUnsent(o.n);
                  remember(taken);
                  const expected = m.sealed.filter((b) => !b.inFlight).slice(0, o.n);
                  expect(taken.map((b) => [b.seq, idsOf(b)])).toEqual(expected.map((b) => [b.seq, b.ids]));
                  for (const b of taken) b.inFlight = true;
                  for (const b of expected) b.inFlight = true;
                  break;
                }
                case "ack":
                case "reject": {
                  const seq = seqAt(o.pick);
                  const i = m.sealed.findIndex((b) => b.seq === seq);
                  const removed = i >= 0 ? (m.sealed.splice(i, 1)[0]?.ids ?? []) : [];
                  for (const id of removed) m.outcome.set(id, o.kind === "ack" ? "acked" : "rejected");
                  expect(o.kind === "ack" ? q.ack(seq) : q.reject(seq)).toBe(removed.length);
                  break;
                }
                case "retryLater": {
                  const seq = seqAt(o.pick);
                  q.retryLater(seq);
                  const b = m.sealed.find((x) => x.seq === seq);
                  if (b) b.inFlight = false;
                  break;
                }
                case "requeue":
                  q.requeueInFlight();
                  for (const b of m.sealed) b.inFlight = false;
                  break;
              }
              const st = q.stats();
              expect(st.collected).toBe(st.acked + st.dropped + st.rejected + st.held);
              expect(st.held).toBeLessThanOrEqual(max);
              expect(st).toEqual({
                collected: m.collected,
                acked: m.count("acked"),
                dropped: m.count("dropped"),
                rejected: m.count("rejected"),
                held: m.held(),
              });
              expect(q.openSamples).toBe(m.open.length);
              expect(q.inFlightCount).toBe(m.sealed.filter((b) => b.inFlight).length);
              expect(q.isEmpty).toBe(m.held() === 0);
            }
            // Every sample that is not held any more ended exactly one way, and dropped ones were the oldest:
            // no dropped sample is newer than a sample that is still held.
            const heldIds = [...m.sealed.flatMap((b) => b.ids), ...m.open];
            const droppedIds = [...m.outcome].filter(([, v]) => v === "dropped").map(([id]) => id);
            if (heldIds.length > 0 && droppedIds.length > 0)
              expect(Math.max(...droppedIds)).toBeLessThan(Math.min(...heldIds));
            expect(m.outcome.size + heldIds.length).toBe(nextId - 1);
            // what the queue handed out under a seq never changed
            for (const b of q.takeUnsent(1_000)) expect(seen.get(b.seq) ?? idsOf(b)).toEqual(idsOf(b));
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});
