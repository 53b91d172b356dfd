import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sample } from "@vigil/common";
import { afterEach, describe, expect, it } from "vitest";
import { BatchQueue, type QueuedBatch } from "./batch-queue.js";
import { Spool } from "./spool.js";
import { captureLogger } from "./test-support.js";

function samples(ids: readonly number[], metric = "m"): Sample[] {
  return ids.map((id) => ({ metric, labels: { host: "a" }, value: id, ts: 1_000 + id }));
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const idsOf = (b: { series: readonly { values: readonly number[] }[] }) =>
  b.series.flatMap((s) => [...s.values]);

describe("Spool", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const spoolDir = () => {
    const d = mkdtempSync(join(tmpdir(), "vigil-spool-"));
    dirs.push(d);
    return join(d, "spool");
  };
  const files = (dir: string) => readdirSync(dir).sort();

  it("creates its directory 0700 and writes one file per sealed batch, deleted on ack", () => {
    const dir = spoolDir();
    const spool = new Spool(dir, 1 << 20, captureLogger().logger);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const q = new BatchQueue(1_000, 3, spool);
    q.add(samples(range(1, 7)));
    q.seal();
    expect(files(dir)).toEqual(["000000000000001.batch", "000000000000002.batch", "000000000000003.batch"]);
    expect(spool.bytes).toBeGreaterThan(0);
    q.ack(2);
    q.reject(3);
    expect(files(dir)).toEqual(["000000000000001.batch"]);
    q.ack(1);
    expect(files(dir)).toEqual([]);
    expect(spool.bytes).toBe(0);
  });

  it("restores spooled batches first, oldest first, and numbers new batches after them", () => {
    const dir = spoolDir();
    const first = new BatchQueue(1_000, 2, new Spool(dir, 1 << 20, captureLogger().logger));
    first.add(samples(range(1, 5)));
    first.seal();
    first.ack(1);
    // the process dies here: batches 2 and 3 ({3,4} and {5}) stay on disk

    const spool = new Spool(dir, 1 << 20, captureLogger().logger);
    const restored = spool.load();
    expect(restored.map((b) => [b.seq, b.samples, idsOf(b)])).toEqual([
      [2, 2, [3, 4]],
      [3, 1, [5]],
    ]);
    expect(restored[0]?.series[0]).toMatchObject({
      metric: "m",
      labels: { host: "a" },
      timestamps: [1003, 1004],
    });
    const q = new BatchQueue(1_000, 2, spool);
    q.restore(restored);
    q.add(samples([6]));
    q.seal();
    expect(q.takeUnsent(10).map((b: QueuedBatch) => [b.seq, idsOf(b)])).toEqual([
      [2, [3, 4]],
      [3, [5]],
      [4, [6]],
    ]);
    expect(q.stats()).toMatchObject({ collected: 4, held: 4, dropped: 0 });
    for (const seq of [2, 3, 4]) q.ack(seq);
    expect(files(dir)).toEqual([]);
  });

  it("deletes leftover .tmp files and unreadable batches on load", () => {
    const dir = spoolDir();
    const { logger, lines } = captureLogger();
    const spool = new Spool(dir, 1 << 20, logger);
    const q = new BatchQueue(1_000, 10, spool);
    q.add(samples([1, 2]));
    q.seal();
    writeFileSync(join(dir, "000000000000002.batch.tmp"), "half");
    writeFileSync(join(dir, "000000000000003.batch"), Buffer.from([0xff, 0xff, 0xff]));
    writeFileSync(join(dir, "README"), "not ours");
    const again = new Spool(dir, 1 << 20, logger);
    expect(again.load().map((b) => b.seq)).toEqual([1]);
    expect(files(dir)).toEqual(["000000000000001.batch", "README"]);
    expect(lines.some((l) => l.msg === "spooled batch unreadable; deleted")).toBe(true);
  });

  it("over spool_max_bytes drops the oldest batches, from disk and memory, counted as dropped", () => {
    const dir = spoolDir();
    const spool = new Spool(dir, 1 << 20, captureLogger().logger);
    const q = new BatchQueue(1_000_000, 100, spool);
    q.add(samples(range(1, 100)));
    q.seal();
    const oneBatch = spool.bytes;
    spool.maxBytes = oneBatch * 3;
    q.add(samples(range(101, 500)));
    q.seal();
    const left = q.takeUnsent(100);
    expect(spool.bytes).toBeLessThanOrEqual(spool.maxBytes);
    expect(left.map((b) => b.seq)).toEqual(files(dir).map((f) => Number(f.slice(0, 15))));
    const stats = q.stats();
    expect(stats.dropped).toBe(500 - stats.held);
    expect(stats.dropped).toBeGreaterThanOrEqual(200);
    // the newest survive
    expect(idsOf(left[left.length - 1] as QueuedBatch).at(-1)).toBe(500);
    expect(stats.collected).toBe(stats.acked + stats.dropped + stats.rejected + stats.held);
  });

  it("a restored spool larger than max_samples keeps the newest and counts the rest as dropped", () => {
    const dir = spoolDir();
    const q1 = new BatchQueue(1_000_000, 500, new Spool(dir, 1 << 24, captureLogger().logger));
    q1.add(samples(range(1, 3_000)));
    q1.seal();
    const spool = new Spool(dir, 1 << 24, captureLogger().logger);
    const q = new BatchQueue(1_000, 500, spool);
    q.restore(spool.load());
    expect(q.stats()).toMatchObject({ collected: 3_000, dropped: 2_000, held: 1_000 });
    expect(files(dir)).toEqual(["000000000000005.batch", "000000000000006.batch"]);
  });

  it("a failed write keeps the batch in memory and logs", () => {
    const dir = spoolDir();
    const { logger, lines } = captureLogger();
    const spool = new Spool(dir, 1 << 20, logger);
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "a file where the directory was");
    const q = new BatchQueue(1_000, 10, spool);
    q.add(samples([1]));
    q.seal();
    expect(q.takeUnsent(10).map((b) => b.seq)).toEqual([1]);
    expect(spool.bytes).toBe(0);
    expect(lines.some((l) => l.msg === "could not spool a batch; it is held in memory only")).toBe(true);
  });
});
