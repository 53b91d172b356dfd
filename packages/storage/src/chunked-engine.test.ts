import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SeriesSamples } from "@vigil/common";
import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Catalog } from "./catalog.js";
import { readDayFileSamples } from "./chunk-day-file.js";
import { ChunkedStorageEngine, type ChunkedStorageEngineOptions } from "./chunked-engine.js";
import { dayFilePath, samplesDir } from "./data-dir-layout.js";
import { dataDirPerTest, openEngineForTest } from "./engine-test-support.js";
import { MAX_CHUNK_SAMPLES } from "./head.js";
import { SqliteStorageEngine } from "./sqlite-engine.js";
import { isStorageError } from "./storage-error.js";

const DAY = Date.UTC(2025, 10, 25);
const MIN = 60_000;
const HOUR = 60 * MIN;

const data = dataDirPerTest("vigil-chunked-");

function openStore(options: Partial<ChunkedStorageEngineOptions> = {}, dataDir = data.path) {
  return openEngineForTest(
    data,
    (catalog, root) => ChunkedStorageEngine.open({ dataDir: root, catalog, ...options }),
    dataDir,
  );
}

function series(metric: string, labels: Record<string, string>, points: [number, number][]): SeriesSamples {
  return { metric, labels, timestamps: points.map((p) => p[0]), values: points.map((p) => p[1]) };
}

function tableCount(tsMs: number, table: string): number {
  const db = new Database(dayFilePath(data.path, tsMs), { readonly: true, fileMustExist: true });
  const n = db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  db.close();
  return n;
}

const q = (engine: ChunkedStorageEngine, fromMs: number, toMs: number, stepMs?: number) =>
  engine.queryRange({ agentId: "a", metric: "m", matchers: [], fromMs, toMs, stepMs });

describe("ChunkedStorageEngine", () => {
  it("is idempotent: a resent batch counts duplicates, keeping the first value", async () => {
    const { engine } = openStore();
    const batch = [
      series("m", {}, [
        [DAY + 1_000, 12.5],
        [DAY + 2_000, 13],
        [DAY + 2_000, 14],
      ]),
    ];
    expect(await engine.appendBatch("a", batch)).toEqual({ accepted: 2, duplicates: 1 });
    expect(await engine.appendBatch("a", batch)).toEqual({ accepted: 0, duplicates: 3 });
    expect((await q(engine, DAY, DAY + HOUR))[0]?.points).toEqual([
      [DAY + 1_000, 12.5],
      [DAY + 2_000, 13],
    ]);
  });

  it("appends each batch to wal_batches, commits before resolving, and moves full chunks out", async () => {
    const { engine } = openStore();
    const n = MAX_CHUNK_SAMPLES + 10;
    for (let i = 0; i < n; i++) await engine.appendBatch("a", [series("m", {}, [[DAY + i * 1000, i / 100]])]);
    expect(tableCount(DAY, "chunks")).toBe(1);
    // The rows of the flushed chunk are gone; those of the open chunk remain.
    expect(tableCount(DAY, "wal_batches")).toBe(10);
    const got = (await q(engine, DAY, DAY + HOUR))[0]?.points;
    expect(got).toHaveLength(n);
    expect(got?.[n - 1]).toEqual([DAY + (n - 1) * 1000, (n - 1) / 100]);
  });

  it("group-commits batches that arrive together into one transaction each day", async () => {
    const { engine } = openStore();
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => engine.appendBatch("a", [series("m", {}, [[DAY + i, i]])])),
    );
    expect(results).toEqual([0, 1, 2, 3].map(() => ({ accepted: 1, duplicates: 0 })));
    expect(tableCount(DAY, "wal_batches")).toBe(4);
  });

  it("replays wal_batches after a crash (no close), losing nothing and doubling nothing", async () => {
    const crashed = openStore();
    for (let i = 0; i < 50; i++)
      await crashed.engine.appendBatch("a", [series("m", {}, [[DAY + i * 1000, i * 1.5]])]);
    // Simulate a crash: open a second engine on the same files without closing the first.
    const other = mkdtempSync(join(tmpdir(), "vigil-chunked-copy-"));
    try {
      for (const name of ["vigil.db", "vigil.db-wal", "samples"]) {
        try {
          const { cpSync } = await import("node:fs");
          cpSync(join(data.path, name), join(other, name), { recursive: true });
        } catch {
          // -wal may not exist
        }
      }
      const again = openStore({}, other);
      const got = (
        await again.engine.queryRange({
          agentId: "a",
          metric: "m",
          matchers: [],
          fromMs: DAY,
          toMs: DAY + HOUR,
        })
      )[0]?.points;
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => [DAY + i * 1000, i * 1.5]));
      expect(await again.engine.appendBatch("a", [series("m", {}, [[DAY, 0]])])).toEqual({
        accepted: 0,
        duplicates: 1,
      });
      await again.close();
      expect(readDayFileSamples(join(other, "samples", "2025-11-25.db"))).toHaveLength(50);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("readDayFileSamples with a filter reads chunks, stragglers and wal_batches of just those series and that range", async () => {
    const { engine, close } = openStore();
    // Series m{s=0..2}, 300 samples each: the first 240 become a chunk, the rest stay in wal_batches.
    for (let i = 0; i < 300; i++)
      await engine.appendBatch(
        "a",
        [0, 1, 2].map((s) => series("m", { s: String(s) }, [[DAY + i * 1000, s * 1000 + i]])),
      );
    // A straggler of s=1, older than its chunk's end.
    await engine.appendBatch("a", [series("m", { s: "1" }, [[DAY + 500, -1]])]);
    const path = join(data.path, "samples", "2025-11-25.db");
    expect(tableCount(DAY, "chunks")).toBeGreaterThan(0);
    expect(tableCount(DAY, "wal_batches")).toBeGreaterThan(0);
    const ids = new Map(readDayFileSamples(path).map((x) => [x.seriesId, true]));
    expect(ids.size).toBe(3);
    const [id0, id1] = [...ids.keys()].sort((a, b) => a - b) as [number, number];
    const got = readDayFileSamples(path, {
      seriesIds: new Set([id1]),
      fromMs: DAY + 235_000,
      toMs: DAY + 245_000,
    });
    expect(got.map((x) => [x.seriesId, x.ts, x.value])).toEqual(
      Array.from({ length: 11 }, (_, k) => [id1, DAY + (235 + k) * 1000, 1000 + 235 + k]),
    );
    const straggler = readDayFileSamples(path, {
      seriesIds: new Set([id0, id1]),
      fromMs: DAY + 400,
      toMs: DAY + 600,
    });
    expect(straggler.map((x) => [x.seriesId, x.ts, x.value])).toEqual([[id1, DAY + 500, -1]]);
    expect(
      readDayFileSamples(join(data.path, "samples", "2025-11-26.db"), {
        seriesIds: new Set([id0]),
        fromMs: 0,
        toMs: 1,
      }),
    ).toEqual([]);
    await close();
  });

  it("empties wal_batches on close and keeps -0 bit-exact in chunks", async () => {
    const { engine, close } = openStore();
    await engine.appendBatch("a", [
      series("m", {}, [
        [DAY, -0],
        [DAY + 1, 0.1],
        [DAY - 1, 2.5],
      ]),
    ]);
    await close();
    expect(readdirSync(samplesDir(data.path)).sort()).toEqual(["2025-11-24.db", "2025-11-25.db"]);
    expect(tableCount(DAY, "wal_batches")).toBe(0);
    expect(tableCount(DAY, "chunks")).toBe(1);
    const again = openStore();
    const got = (await q(again.engine, DAY - 10, DAY + 10))[0]?.points ?? [];
    expect(got).toEqual([
      [DAY - 1, 2.5],
      [DAY, -0],
      [DAY + 1, 0.1],
    ]);
    expect(Object.is(got[1]?.[1], -0)).toBe(true);
  });

  it("writes samples older than the flushed chunks to samples, and dedups them", async () => {
    const { engine, close } = openStore();
    await engine.appendBatch("a", [
      series("m", {}, [
        [DAY + 10_000, 1],
        [DAY + 20_000, 2],
      ]),
    ]);
    await close();
    const again = openStore();
    expect(
      await again.engine.appendBatch("a", [
        series("m", {}, [
          [DAY + 5_000, 0.5],
          [DAY + 10_000, 9],
          [DAY + 15_000, 1.5],
        ]),
      ]),
    ).toEqual({ accepted: 2, duplicates: 1 });
    expect(tableCount(DAY, "samples")).toBe(2);
    expect(await again.engine.appendBatch("a", [series("m", {}, [[DAY + 5_000, 7]])])).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    expect((await q(again.engine, DAY, DAY + HOUR))[0]?.points).toEqual([
      [DAY + 5_000, 0.5],
      [DAY + 10_000, 1],
      [DAY + 15_000, 1.5],
      [DAY + 20_000, 2],
    ]);
  });

  it("answers step buckets from chunk aggregates and from decoded samples alike", async () => {
    const { engine, close } = openStore();
    const pts: [number, number][] = Array.from({ length: 600 }, (_, i) => [DAY + i * 10_000, (i % 50) / 4]);
    await engine.appendBatch("a", [series("m", {}, pts)]);
    const expected = (step: number, from: number, to: number) => {
      const m = new Map<number, number[]>();
      for (const [ts, v] of pts) {
        if (ts < from || ts > to) continue;
        const k = Math.floor((ts - from) / step);
        m.set(k, [...(m.get(k) ?? []), v]);
      }
      return [...m.entries()].map(([k, vs]) => [
        from + k * step,
        vs.reduce((a, b) => a + b, 0) / vs.length,
        Math.min(...vs),
        Math.max(...vs),
        vs.length,
      ]);
    };
    await close();
    const again = openStore();
    for (const [step, from, to] of [
      [HOUR, DAY - HOUR, DAY + 3 * HOUR],
      [7 * MIN, DAY + 33_000, DAY + 80 * MIN],
      [2 * HOUR, DAY, DAY + 2 * HOUR],
    ] as const) {
      const got = (await q(again.engine, from, to, step))[0]?.points ?? [];
      const want = expected(step, from, to);
      expect(got.map((p) => [p[0], p[2], p[3], p[4]])).toEqual(want.map((p) => [p[0], p[2], p[3], p[4]]));
      got.forEach((p, i) => {
        expect(p[1]).toBeCloseTo(want[i]?.[1] as number, 9);
      });
    }
  });

  it("refuses non-finite values and bad timestamps like the row engine, before writing", async () => {
    const { engine } = openStore();
    const err = await engine
      .appendBatch("a", [series("m", {}, [[DAY, Number.NaN]])])
      .catch((e: unknown) => e);
    expect(isStorageError(err) && err.code).toBe("invalid_batch");
  });

  it("upgrades a version-1 day file in place and reads its rows", async () => {
    const old = SqliteStorageEngine.open({ dataDir: data.path, catalog: Catalog.open(data.path) });
    await old.appendBatch("a", [
      series("m", {}, [
        [DAY, 1],
        [DAY + 1, 2],
      ]),
    ]);
    await old.close();
    const { engine } = openStore();
    expect(
      await engine.appendBatch("a", [
        series("m", {}, [
          [DAY + 1, 5],
          [DAY + 2, 3],
        ]),
      ]),
    ).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    expect((await q(engine, DAY, DAY + 10))[0]?.points).toEqual([
      [DAY, 1],
      [DAY + 1, 2],
      [DAY + 2, 3],
    ]);
  });

  it("property: any batches, resends, restarts and out-of-order samples read back deduplicated", async () => {
    const point = fc.tuple(fc.integer({ min: -3, max: 400 }), fc.integer({ min: -1000, max: 1000 }));
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("batch" as const),
        points: fc.array(point, { maxLength: 40 }),
        series: fc.integer({ min: 0, max: 2 }),
      }),
      fc.record({ kind: fc.constant("restart" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
        const d = mkdtempSync(join(tmpdir(), "vigil-chunked-prop-"));
        try {
          let store = openStore({ maxHeadAgeBatches: 3 }, d);
          const want = new Map<string, number>();
          for (const s of steps) {
            if (s.kind === "restart") {
              await store.close();
              store = openStore({ maxHeadAgeBatches: 3 }, d);
              continue;
            }
            const pts = s.points.map(([t, v]): [number, number] => [DAY + t * 60_000, v / 8]);
            let fresh = 0;
            for (const [t, v] of pts) {
              const key = `${s.series}:${t}`;
              if (!want.has(key)) {
                want.set(key, v);
                fresh++;
              }
            }
            const r = await store.engine.appendBatch("a", [series("m", { s: String(s.series) }, pts)]);
            expect(r).toEqual({ accepted: fresh, duplicates: pts.length - fresh });
          }
          const got = await store.engine.queryRange({
            agentId: "a",
            metric: "m",
            matchers: [],
            fromMs: DAY - HOUR,
            toMs: DAY + 500 * MIN,
          });
          const flat = got.flatMap((g) => g.points.map(([t, v]) => `${g.labels.s}:${t}=${v}`)).sort();
          expect(flat).toEqual([...want.entries()].map(([k, v]) => `${k}=${v}`).sort());
          await store.close();
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});
