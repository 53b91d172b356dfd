import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SeriesSamples } from "@vigil/common";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Catalog } from "./catalog.js";
import { ChunkedStorageEngine } from "./chunked-engine.js";
import { DAY_MS, dayNumber, dayNumberFileName, samplesDir } from "./data-dir-layout.js";
import { FINALIZE_AFTER_DAYS, RollupBuilder } from "./rollup-builder.js";
import { HOUR_MS, MINUTE_MS, RollupStore } from "./rollups.js";
import type { BucketPoint, SeriesRange } from "./storage-engine.js";

const DAY0 = Date.UTC(2026, 0, 10);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-rollups-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function removeDayFiles(d: string): void {
  for (const name of readdirSync(samplesDir(d))) rmSync(join(samplesDir(d), name));
}

type Sample = [series: number, ts: number, value: number];

function toBatch(samples: readonly Sample[]): SeriesSamples[] {
  const by = new Map<number, SeriesSamples & { timestamps: number[]; values: number[] }>();
  for (const [s, ts, v] of samples) {
    let x = by.get(s);
    if (!x) {
      x = { metric: "m", labels: { s: String(s) }, timestamps: [], values: [] };
      by.set(s, x);
    }
    x.timestamps.push(ts);
    x.values.push(v);
  }
  return [...by.values()];
}

/** Step queries at aligned steps whose answers must not depend on where the data is read from. */
const STEPS = [MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, 3 * HOUR_MS, DAY_MS];

async function answers(engine: ChunkedStorageEngine, fromMs: number, toMs: number) {
  const out: SeriesRange<BucketPoint>[][] = [];
  for (const stepMs of STEPS)
    out.push(await engine.queryRange({ agentId: "a", metric: "m", matchers: [], fromMs, toMs, stepMs }));
  return out;
}

describe("rollups", () => {
  it("answer step queries exactly like the raw data, wherever the samples were (property)", async () => {
    // Integer values: sums of integers are exact in any order, so equality is exact.
    const sample = fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 3 * DAY_MS - 1 }).map((o) => DAY0 + o),
      fc.integer({ min: -1_000, max: 1_000 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(sample, { minLength: 1, maxLength: 400 }),
        fc.array(sample, { maxLength: 100 }),
        async (first, later) => {
          const d = mkdtempSync(join(dir, "p-"));
          const catalog = Catalog.open(d);
          try {
            // First batches flushed into chunks; later ones (stragglers or head samples) stay unflushed.
            let engine = ChunkedStorageEngine.open({ dataDir: d, catalog });
            await engine.appendBatch("a", toBatch(first));
            await engine.close();
            engine = ChunkedStorageEngine.open({ dataDir: d, catalog });
            if (later.length > 0) await engine.appendBatch("a", toBatch(later));
            const fromMs = DAY0;
            const toMs = DAY0 + 3 * DAY_MS - 1;
            const raw = await answers(engine, fromMs, toMs);
            expect(raw.every((byStep) => byStep.length > 0)).toBe(true);

            const store = RollupStore.open(d);
            try {
              const builder = new RollupBuilder({ dataDir: d, store });
              // An incremental pass, then finalize (stragglers and head), then close (head flushed to
              // chunks) and pass again: nothing may count twice.
              builder.run(DAY0);
              for (let day = dayNumber(DAY0); day < dayNumber(DAY0) + 3; day++) builder.finalizeDay(day);
              await engine.close();
              builder.run(Date.now() + DAY_MS);
              removeDayFiles(d);
              const fromRollups = ChunkedStorageEngine.open({ dataDir: d, catalog, rollups: store });
              try {
                expect(await answers(fromRollups, fromMs, toMs)).toEqual(raw);
              } finally {
                await fromRollups.close();
              }
            } finally {
              store.close();
            }
          } finally {
            catalog.close();
            rmSync(d, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  it("retention finalizes rollups before deleting a day file, and keeps the file when that fails", async () => {
    const now = Date.now();
    const today = dayNumber(now);
    const catalog = Catalog.open(dir);
    const store = RollupStore.open(dir);
    const builder = new RollupBuilder({ dataDir: dir, store });
    try {
      const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog, rollups: store });
      const noon = (offset: number) => (today + offset) * DAY_MS + DAY_MS / 2;
      for (const o of [-5, -4, 0])
        await engine.appendBatch("a", [
          { metric: "m", labels: {}, timestamps: [noon(o), noon(o) + 30 * MINUTE_MS], values: [o, 2 * o] },
        ]);
      await engine.close();

      // A hook that refuses: nothing is deleted.
      const refusing = ChunkedStorageEngine.open({
        dataDir: dir,
        catalog,
        retentionDays: 2,
        beforeDeleteDayFile: () => false,
      });
      await refusing.close();
      expect(readdirSync(samplesDir(dir)).filter((n) => n.endsWith(".db"))).toHaveLength(3);

      const engine2 = ChunkedStorageEngine.open({
        dataDir: dir,
        catalog,
        retentionDays: 2,
        rollups: store,
        beforeDeleteDayFile: (day) => {
          builder.finalizeDay(day);
          return true;
        },
      });
      try {
        expect(readdirSync(samplesDir(dir)).filter((n) => n.endsWith(".db"))).toEqual([
          dayNumberFileName(today),
        ]);
        const fromMs = (today - 6) * DAY_MS;
        const got = await engine2.queryRange({
          agentId: "a",
          metric: "m",
          matchers: [],
          fromMs,
          toMs: (today + 1) * DAY_MS - 1,
          stepMs: HOUR_MS,
        });
        expect(got[0]?.points).toEqual(
          [-5, -4, 0].map(
            (o): BucketPoint => [noon(o), (3 * o) / 2, Math.min(o, 2 * o), Math.max(o, 2 * o), 2],
          ),
        );
      } finally {
        await engine2.close();
      }
      // Rollup retention: 1-minute rows go after 3 days, 1-hour rows are kept (today is not rolled up yet).
      expect(store.range("1m", 1, 0, now)).toHaveLength(4);
      expect(store.runRetention(now, 3, 400)).toBe(4);
      expect(store.range("1m", 1, 0, now)).toHaveLength(0);
      expect(store.range("1h", 1, 0, now)).toHaveLength(2);
    } finally {
      store.close();
      catalog.close();
    }
  });

  it("the periodic run finalizes old days once and skips them while their file is unchanged", async () => {
    const catalog = Catalog.open(dir);
    const store = RollupStore.open(dir);
    try {
      const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
      await engine.appendBatch("a", [
        { metric: "m", labels: {}, timestamps: [DAY0 + 1_000, DAY0 + DAY_MS + 1_000], values: [1, 2] },
      ]);
      await engine.close();
      const builder = new RollupBuilder({ dataDir: dir, store });
      // On DAY0 + 1 day, neither day is old enough to finalize; their chunks are rolled up.
      expect(builder.run(DAY0 + DAY_MS)).toEqual({ days: 2, finalized: 0, samples: 2, failed: 0 });
      const later = DAY0 + (FINALIZE_AFTER_DAYS + 1) * DAY_MS;
      expect(builder.run(later)).toEqual({ days: 2, finalized: 2, samples: 0, failed: 0 });
      expect(builder.run(later + 60_000).days).toBe(0);
      expect(store.range("1h", 1, DAY0, DAY0 + 2 * DAY_MS)).toEqual([
        [DAY0, 1, 1, 1, 1],
        [DAY0 + DAY_MS, 1, 2, 2, 2],
      ]);
    } finally {
      store.close();
      catalog.close();
    }
  });
});
