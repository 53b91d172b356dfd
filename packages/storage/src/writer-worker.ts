/**
 * The writer thread's entry (started by writer-client.ts): after `init`, owns a `WriterCore`, queues the batches that
 * arrive while it is busy and commits them together (group commit) on the next turn of its own event
 * loop, answering each request by its seq. Logs go to the main thread as messages.
 */
import { parentPort } from "node:worker_threads";
import { type QueuedBatch, WriterCore } from "./writer-core.js";
import { type LogLevel, toWireError, type WriterReply, type WriterRequest } from "./writer-protocol.js";

const port = parentPort;
if (!port) throw new Error("writer-worker.ts runs only as a worker thread");

const post = (m: WriterReply) => port.postMessage(m);
const log = (level: LogLevel, fields: Record<string, unknown>, msg: string) =>
  post({ t: "log", level, fields, msg });

let core: WriterCore | undefined;
let queue: { seq: number; batch: QueuedBatch }[] = [];
let drainScheduled = false;

function drain(): void {
  drainScheduled = false;
  const group = queue;
  queue = [];
  if (group.length === 0 || !core) return;
  const outcomes = core.commit(group.map((q) => q.batch));
  outcomes.forEach((o, i) => {
    const seq = (group[i] as { seq: number }).seq;
    if ("error" in o) post({ t: "fail", seq, error: toWireError(o.error) });
    else post({ t: "done", seq, value: o.accepted });
  });
  // After the acks: flushing chunks and checkpoints never delay an ack.
  core.maintain();
}

function answer(seq: number, fn: () => unknown): void {
  try {
    post({ t: "done", seq, value: fn() });
  } catch (err) {
    post({ t: "fail", seq, error: toWireError(err) });
  }
}

port.on("message", (m: WriterRequest) => {
  if (m.t === "init") {
    try {
      const c = new WriterCore(m.init, log);
      c.start();
      core = c;
      post({ t: "ready" });
    } catch (err) {
      post({ t: "fatal", error: toWireError(err) });
    }
    return;
  }
  const c = core;
  if (!c) {
    post({
      t: "fail",
      seq: m.seq,
      error: {
        name: "StorageError",
        code: "closed",
        message: "the storage writer is not running",
        stack: undefined,
      },
    });
    return;
  }
  switch (m.t) {
    case "append":
      queue.push({ seq: m.seq, batch: { agentId: m.agentId, days: m.days } });
      if (!drainScheduled) {
        drainScheduled = true;
        // setImmediate runs after every message already waiting: they all share one commit.
        setImmediate(drain);
      }
      return;
    case "snapshot":
      // Writes sent before this request go first, so a read sees every batch acked before it was asked.
      drain();
      answer(m.seq, () => c.snapshot(m.days, m.seriesIds, m.fromMs, m.toMs));
      return;
    case "latest":
      drain();
      answer(m.seq, () => c.latest(m.seriesIds));
      return;
    case "retention":
      drain();
      answer(m.seq, () => c.deleteDays(m.days));
      return;
    case "limit":
      drain();
      answer(m.seq, () => c.setMaxDayFileBytes(m.maxDayFileBytes));
      return;
    case "close":
      drain();
      // The thread stays, idle, for the next engine of this process (writer-client.ts keeps one).
      core = undefined;
      answer(m.seq, () => c.close());
      return;
  }
});
