import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Catalog } from "./catalog.js";
import { ChunkedStorageEngine } from "./chunked-engine.js";
import { DAY_MS, dayNumber, dayNumberFileName, samplesDir } from "./data-dir-layout.js";
import { dataDirPerTest, openEngineForTest } from "./engine-test-support.js";

const data = dataDirPerTest("vigil-retention-");

function openStore(retentionDays?: number) {
  return openEngineForTest(data, (catalog, dataDir) =>
    ChunkedStorageEngine.open({ dataDir, catalog, retentionDays }),
  );
}

const today = dayNumber(Date.now());
/** Noon UTC of `today + offset`. */
const noon = (offset: number) => (today + offset) * DAY_MS + DAY_MS / 2;
const files = () =>
  readdirSync(samplesDir(data.path))
    .filter((n) => !n.endsWith("-shm"))
    .sort();
const fileOf = (offset: number) => dayNumberFileName(today + offset);

async function fill(engine: ChunkedStorageEngine, offsets: number[]): Promise<void> {
  for (const o of offsets)
    await engine.appendBatch("a", [{ metric: "m", labels: {}, timestamps: [noon(o)], values: [o] }]);
}

describe("retention", () => {
  it("deletes whole day files older than retentionDays, open ones included, never today", async () => {
    const { engine } = openStore(2);
    // Open files with samples still in their head (and -wal files) for today-5 .. today+1.
    await fill(engine, [-5, -4, -3, -2, -1, 0, 1]);
    expect(files().filter((n) => n.endsWith(".db"))).toHaveLength(7);
    expect(files().some((n) => n === `${fileOf(-5)}-wal`)).toBe(true);
    const deleted = await engine.runRetention(Date.now());
    expect(deleted.map((p) => p.slice(-13))).toEqual([fileOf(-5), fileOf(-4), fileOf(-3)]);
    // Today, the two days before it and tomorrow stay; the deleted ones leave no -wal or -shm.
    expect(files().filter((n) => n.endsWith(".db"))).toEqual([fileOf(-2), fileOf(-1), fileOf(0), fileOf(1)]);
    expect(readdirSync(samplesDir(data.path)).filter((n) => n.startsWith(fileOf(-3)))).toEqual([]);
    const got = await engine.queryRange({
      agentId: "a",
      metric: "m",
      matchers: [],
      fromMs: noon(-6),
      toMs: noon(2),
    });
    expect(got[0]?.points).toEqual([-2, -1, 0, 1].map((o) => [noon(o), o]));
    // Nothing more to delete; a later day's run deletes the next file; writing still works.
    expect(await engine.runRetention(Date.now())).toEqual([]);
    expect((await engine.runRetention(Date.now() + DAY_MS)).map((p) => p.slice(-13))).toEqual([fileOf(-2)]);
    await fill(engine, [0]);
    expect(await engine.latest({ agentId: "a" })).toEqual([
      { metric: "m", labels: {}, ts: noon(1), value: 1 },
    ]);
  });

  it("runs at open, and keeps everything without retentionDays", async () => {
    const first = openStore();
    await fill(first.engine, [-3, -2, 0]);
    expect(await first.engine.runRetention(Date.now() + 100 * DAY_MS)).toEqual([]);
    await first.close();
    expect(files()).toEqual([fileOf(-3), fileOf(-2), fileOf(0)]);
    const second = openStore(2);
    // A round trip to the writer thread, which answers only after its start-up replay: that opens each
    // kept day file (with a -wal) and closes it again, concurrently with this thread until then.
    await second.engine.setMaxDayFileBytes(undefined);
    expect(files()).toEqual([fileOf(-2), fileOf(0)]);
    const got = await second.engine.queryRange({
      agentId: "a",
      metric: "m",
      matchers: [],
      fromMs: noon(-4),
      toMs: noon(0),
    });
    expect(got[0]?.points).toEqual([
      [noon(-2), -2],
      [noon(0), 0],
    ]);
  });

  it("refuses a retention that is not a whole number of days", () => {
    const catalog = Catalog.open(data.path);
    try {
      for (const retentionDays of [0, 1.5, -1])
        expect(() => ChunkedStorageEngine.open({ dataDir: data.path, catalog, retentionDays })).toThrow(
          /retentionDays/,
        );
    } finally {
      catalog.close();
    }
  });
});
