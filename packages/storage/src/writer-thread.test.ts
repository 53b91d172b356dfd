/**
 * The writer thread: the bounded queue (busy), reads that never stall it, the -wal cap, and failed
 * writes (a real SQLITE_FULL from a day file's size limit, a real SQLITE_READONLY from a read-only day
 * file) that ack nothing and lose nothing.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, statSync } from "node:fs";
import { Writable } from "node:stream";
import { createLogger, type Logger, type SeriesSamples } from "@vigil/common";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ChunkedStorageEngine, type ChunkedStorageEngineOptions } from "./chunked-engine.js";
import { dayFilePath } from "./data-dir-layout.js";
import { dataDirPerTest, openEngineForTest } from "./engine-test-support.js";
import { isRetryableStorageError, isStorageError } from "./storage-error.js";

const T0 = Date.UTC(2025, 10, 25, 1);
const TICK_MS = 10_000;

const data = dataDirPerTest("vigil-writer-");

function openStore(options: Partial<ChunkedStorageEngineOptions> = {}) {
  return openEngineForTest(data, (catalog, dataDir) =>
    ChunkedStorageEngine.open({ dataDir, catalog, ...options }),
  );
}

const value = (s: number, t: number) => ((s * 7919 + t * 104_729) % 100_000) / 100;

/** Tick `t` of `n` series of metric `metric`: one sample each. */
function tick(t: number, n: number, metric = "m"): SeriesSamples[] {
  return Array.from({ length: n }, (_, s) => ({
    metric,
    labels: { s: String(s) },
    timestamps: [T0 + t * TICK_MS],
    values: [value(s, t)],
  }));
}

/** Every series of `metric` has exactly ticks `ticks`, each once, with its value. */
async function expectTicks(engine: ChunkedStorageEngine, metric: string, n: number, ticks: number[]) {
  const got = await engine.queryRange({
    agentId: "a",
    metric,
    matchers: [],
    fromMs: T0,
    toMs: T0 + 10_000 * TICK_MS,
  });
  expect(got).toHaveLength(n);
  const want = [...ticks].sort((a, b) => a - b);
  for (const s of got) {
    const id = Number(s.labels.s);
    expect(s.points).toEqual(want.map((t) => [T0 + t * TICK_MS, value(id, t)]));
  }
}

/** A logger whose lines (parsed) the test can read. */
function captureLogs(): { logger: Logger; lines: { level: number; msg: string; err?: string }[] } {
  const lines: { level: number; msg: string; err?: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ name: "writer-test", level: "info", destination }), lines };
}

/**
 * Makes `path` read-only for this process, really: `chmod 0444` when not root; as root (whom file
 * modes do not stop) the immutable attribute (`chattr +i`, which needs CAP_LINUX_IMMUTABLE and a
 * filesystem that has it: ext4, xfs, btrfs, tmpfs on Linux ≥ 6.0). `undo` makes it writable again.
 */
function makeReadOnly(path: string): { technique: "chmod" | "immutable"; undo: () => void } {
  if (process.getuid?.() !== 0) {
    chmodSync(path, 0o444);
    // SQLite creates a -wal or -shm with the file's mode: one made meanwhile is read-only too.
    const undo = () => {
      for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o644);
    };
    return { technique: "chmod", undo };
  }
  try {
    execFileSync("chattr", ["+i", path], { stdio: "pipe" });
  } catch (err) {
    throw new Error(
      `running as root, and chattr +i ${path} failed, so nothing here can make a file read-only for root: ${String(err)}`,
    );
  }
  let undone = false;
  return {
    technique: "immutable",
    undo: () => {
      if (undone) return;
      undone = true;
      execFileSync("chattr", ["-i", path], { stdio: "pipe" });
    },
  };
}

const walBytes = (path: string) => {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0; // no -wal: nothing to measure (it is created by the first write)
  }
};

describe("writer thread", () => {
  it("refuses batches past the queue bound at once with a retryable busy error; resent, each arrives once", async () => {
    const { engine } = openStore({ maxQueuedBatches: 3 });
    // Sent in one go, before any reply can come back: the queue holds 3, the rest are refused.
    const sent = Array.from({ length: 20 }, (_, t) => engine.appendBatch("a", tick(t, 50)));
    expect(engine.queued).toEqual({ batches: 3, samples: 150 });
    const settled = await Promise.allSettled(sent);
    const refused = settled.flatMap((r, t) =>
      r.status === "rejected" ? [{ t, err: r.reason as unknown }] : [],
    );
    expect(refused.map((r) => r.t)).toEqual(Array.from({ length: 17 }, (_, i) => i + 3));
    for (const { err } of refused) {
      expect(isStorageError(err) && err.code === "busy").toBe(true);
      expect(isRetryableStorageError(err)).toBe(true);
    }
    for (const r of settled.slice(0, 3))
      expect(r).toEqual({ status: "fulfilled", value: { accepted: 50, duplicates: 0 } });
    expect(engine.queued).toEqual({ batches: 0, samples: 0 });
    // The agent resends what was refused, and (at-least-once) one batch that was stored.
    for (const { t } of refused)
      expect(await engine.appendBatch("a", tick(t, 50))).toEqual({ accepted: 50, duplicates: 0 });
    expect(await engine.appendBatch("a", tick(1, 50))).toEqual({ accepted: 0, duplicates: 50 });
    await expectTicks(
      engine,
      "m",
      50,
      Array.from({ length: 20 }, (_, t) => t),
    );
  });

  it("keeps committing while this thread is inside a long read holding a read transaction", async () => {
    const { engine } = openStore();
    // Enough to read: 100 series over 300 ticks, mostly in chunks.
    for (let t = 0; t < 300; t++) await engine.appendBatch("a", tick(t, 100));
    const path = dayFilePath(data.path, T0);
    const held = new Database(path, { readonly: true });
    const probe = new Database(path, { readonly: true });
    try {
      // A read transaction held open across everything that follows.
      held.exec("BEGIN");
      const chunksSeen = held.prepare("SELECT count(*) FROM chunks").pluck().get() as number;
      expect(chunksSeen).toBeGreaterThan(0);
      const lastSeq = probe.prepare("SELECT coalesce(max(seq), 0) FROM wal_batches").pluck().get() as number;

      const K = 20;
      const acked: number[] = [];
      const pending = Array.from({ length: K }, (_, i) =>
        engine.appendBatch("a", tick(300 + i, 100, "late")).then((r) => {
          acked.push(i);
          return r;
        }),
      );
      // A long synchronous read on this thread (it never yields, so no ack can even be delivered):
      // scan every chunk again and again until the writer thread has committed all K batches.
      const scan = probe.prepare("SELECT sum(length(data)) FROM chunks").pluck();
      const committed = probe.prepare("SELECT count(*) FROM wal_batches WHERE seq > ?").pluck();
      let rounds = 0;
      let done = 0;
      while (done < K && rounds < 5_000_000) {
        scan.get();
        done = committed.get(lastSeq) as number;
        rounds++;
      }
      expect(done).toBe(K);
      expect(acked).toEqual([]);
      // The held transaction still sees its old snapshot: the writer never waited for it.
      expect(held.prepare("SELECT count(*) FROM wal_batches WHERE seq > ?").pluck().get(lastSeq)).toBe(0);
      held.exec("COMMIT");

      const results = await Promise.all(pending);
      expect(acked).toEqual(Array.from({ length: K }, (_, i) => i));
      for (const r of results) expect(r).toEqual({ accepted: 100, duplicates: 0 });
      await expectTicks(
        engine,
        "late",
        100,
        Array.from({ length: K }, (_, i) => 300 + i),
      );
    } finally {
      held.close();
      probe.close();
    }
  });

  it("queries running alongside ingest see every acked batch once, and ingest is acked throughout", async () => {
    const { engine } = openStore({ maxHeadAgeBatches: 5 });
    const order: string[] = [];
    const queries: Promise<unknown>[] = [];
    for (let t = 0; t < 200; t++) {
      const append = engine.appendBatch("a", tick(t, 40)).then(() => order.push(`a${t}`));
      // A 2-series raw query and a step query over everything, issued with every batch.
      queries.push(
        engine
          .queryRange({ agentId: "a", metric: "m", matchers: [], fromMs: T0, toMs: T0 + 1e9 })
          .then((r) => {
            order.push(`q${t}`);
            // Each query sees every batch acked before it was issued (reads go after queued writes).
            for (const s of r) expect(s.points.length).toBeGreaterThanOrEqual(t + 1);
            return r;
          }),
        engine.queryRange({
          agentId: "a",
          metric: "m",
          matchers: [],
          fromMs: T0,
          toMs: T0 + 1e8,
          stepMs: 60_000,
        }),
      );
      if (t % 10 === 9) await append;
    }
    await Promise.all(queries);
    // Acks were not held back until the queries were done: they interleave.
    const firstQuery = order.findIndex((o) => o.startsWith("q"));
    const lastAck = order.findLastIndex((o) => o.startsWith("a"));
    expect(firstQuery).toBeLessThan(lastAck);
    await expectTicks(
      engine,
      "m",
      40,
      Array.from({ length: 200 }, (_, t) => t),
    );
  });

  it("keeps each -wal under the cap while queries overlap ingest, and truncates it once a held reader lets go", async () => {
    const cap = 256 * 1024;
    const { engine } = openStore({ walMaxBytes: cap });
    const path = dayFilePath(data.path, T0);
    let largest = 0;
    for (let t = 0; t < 400; t++) {
      await Promise.all([
        engine.appendBatch("a", tick(t, 200)),
        engine.queryRange({
          agentId: "a",
          metric: "m",
          matchers: [{ name: "s", op: "=", value: "7" }],
          fromMs: T0,
          toMs: T0 + 1e8,
          stepMs: 60_000,
        }),
      ]);
      largest = Math.max(largest, walBytes(path));
    }
    // SQLite's own autocheckpoint would let it reach ~4 MiB (1,000 pages) before reusing it; the cap
    // is checked after every commit, so it is passed by at most one commit and one chunk flush.
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(cap + 512 * 1024);

    // A reader holding a transaction pins the -wal: it grows past the cap (nothing is lost or waits)...
    const held = new Database(path, { readonly: true });
    held.exec("BEGIN");
    held.prepare("SELECT count(*) FROM chunks").pluck().get();
    for (let t = 400; t < 600; t++) await engine.appendBatch("a", tick(t, 200));
    expect(walBytes(path)).toBeGreaterThan(cap);
    // ...and the first commit after it lets go truncates it.
    held.exec("COMMIT");
    held.close();
    await engine.appendBatch("a", tick(600, 200));
    await engine.appendBatch("a", tick(601, 200));
    expect(walBytes(path)).toBeLessThan(cap);
    await expectTicks(
      engine,
      "m",
      200,
      Array.from({ length: 602 }, (_, t) => t),
    );
  });

  it("a full day file (SQLITE_FULL) acks nothing, keeps serving, and takes every batch once space returns", async () => {
    const { engine, close } = openStore({ maxDayFileBytes: 96 * 1024 });
    const stored: number[] = [];
    const failed: number[] = [];
    let firstError: unknown;
    for (let t = 0; t < 400 && failed.length < 5; t++) {
      try {
        expect(await engine.appendBatch("a", tick(t, 100))).toEqual({ accepted: 100, duplicates: 0 });
        stored.push(t);
      } catch (err) {
        firstError ??= err;
        failed.push(t);
      }
    }
    expect(failed).toHaveLength(5);
    expect(isRetryableStorageError(firstError) && firstError.code === "unavailable").toBe(true);
    expect((firstError as Error).message).toMatch(/SQLITE_FULL/);
    expect((firstError as Error).message).toContain(dayFilePath(data.path, T0));
    // Still serving: every acked batch reads back, nothing of a failed one does.
    await expectTicks(engine, "m", 100, stored);

    await engine.setMaxDayFileBytes(undefined);
    for (const t of failed)
      expect(await engine.appendBatch("a", tick(t, 100))).toEqual({ accepted: 100, duplicates: 0 });
    await expectTicks(engine, "m", 100, [...stored, ...failed]);

    // And after a restart (replay of wal_batches), the same, in a sound file.
    await close();
    const again = openStore();
    await expectTicks(again.engine, "m", 100, [...stored, ...failed]);
    await again.close();
    const db = new Database(dayFilePath(data.path, T0), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });

  it("a day file made read-only mid-ingest: acks go on while the writer holds it open, a reopen fails with SQLITE_READONLY and acks nothing, and every batch arrives once it is writable", async () => {
    const logs = captureLogs();
    const first = openStore({ walMaxBytes: 64 * 1024, logger: logs.logger });
    const path = dayFilePath(data.path, T0);
    const stored: number[] = [];
    for (let t = 0; t < 20; t++) {
      expect(await first.engine.appendBatch("a", tick(t, 100))).toEqual({ accepted: 100, duplicates: 0 });
      stored.push(t);
    }
    const readOnly = makeReadOnly(path);
    data.onClose(async () => readOnly.undo()); // runs first: an immutable file cannot be removed

    // The writer opened the file before: its descriptors stay writable, commits go on into the -wal
    // (durable, so the acks are right). Only checkpoints write into the file itself: as root with
    // chattr +i they fail, which is logged once and must not stop the writer (the -wal grows meanwhile).
    for (let t = 20; t < 80; t++) {
      expect(await first.engine.appendBatch("a", tick(t, 100))).toEqual({ accepted: 100, duplicates: 0 });
      stored.push(t);
    }
    const checkpointErrors = logs.lines.filter((l) => l.msg.startsWith("could not checkpoint the -wal"));
    if (readOnly.technique === "immutable") {
      expect(checkpointErrors).toHaveLength(1);
      expect(walBytes(path)).toBeGreaterThan(64 * 1024);
    } else expect(checkpointErrors).toEqual([]);
    await expectTicks(first.engine, "m", 100, stored);

    // A restart while it is read-only: SQLite can only open it read-only now.
    await first.close();
    const second = openStore({ walMaxBytes: 64 * 1024, logger: logs.logger });
    const failed: number[] = [];
    for (let t = 80; t < 85; t++) {
      const err = await second.engine.appendBatch("a", tick(t, 100)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `tick ${t} was acked`).toBeDefined();
      expect(isRetryableStorageError(err) && err.code === "unavailable").toBe(true);
      expect((err as Error).message).toContain(path);
      expect((err as Error).message).toMatch(/SQLITE_READONLY/);
      failed.push(t);
    }
    expect(logs.lines.filter((l) => l.msg.startsWith("could not write batches"))).toHaveLength(5);
    // Still serving every acked batch, and nothing of a failed one.
    await expectTicks(second.engine, "m", 100, stored);

    // Writable again: each failed batch, resent until acked as the agent does, is stored once. (As root
    // the first resend is; with chmod a connection opened while the -shm was read-only can make the
    // first one fail too, see ChunkedStorageEngine.appendBatch, and the next succeeds.)
    readOnly.undo();
    const maxTries = readOnly.technique === "immutable" ? 1 : 3;
    for (const t of failed) {
      let result: unknown;
      for (let tries = 0; tries < maxTries && result === undefined; tries++)
        result = await second.engine.appendBatch("a", tick(t, 100)).catch(() => undefined);
      expect(result, `tick ${t}`).toEqual({ accepted: 100, duplicates: 0 });
    }
    expect(await second.engine.appendBatch("a", tick(failed[0] as number, 100))).toEqual({
      accepted: 0,
      duplicates: 100,
    });
    // And the -wal is checkpointed (truncated) again.
    for (let t = 85; t < 90; t++) {
      await second.engine.appendBatch("a", tick(t, 100));
      stored.push(t);
    }
    expect(walBytes(path)).toBeLessThan(64 * 1024 + 512 * 1024);
    await expectTicks(second.engine, "m", 100, [...stored, ...failed]);

    await second.close();
    const third = openStore();
    await expectTicks(third.engine, "m", 100, [...stored, ...failed]);
    await third.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });
});
