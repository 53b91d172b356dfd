import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Catalog } from "./catalog.js";
import { ChunkedStorageEngine } from "./chunked-engine.js";
import { DAY_MS, dayNumberFileName, samplesDir } from "./data-dir-layout.js";
import { type QuarantinedFile, quarantineBadDayFiles } from "./quarantine.js";
import { RollupStore } from "./rollups.js";
import { checkStorage } from "./storage-check.js";

const DAY0 = Date.UTC(2026, 0, 10);
const day0 = DAY0 / DAY_MS;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-check-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Three day files with a few hundred chunks each (many pages), closed cleanly; and rollups.db. */
async function fill(): Promise<void> {
  const catalog = Catalog.open(dir);
  const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
  for (let d = 0; d < 3; d++) {
    const series = Array.from({ length: 50 }, (_, s) => ({
      metric: "m",
      labels: { s: String(s) },
      timestamps: Array.from({ length: 1_000 }, (_, i) => DAY0 + d * DAY_MS + i * 10_000),
      values: Array.from({ length: 1_000 }, () => Math.random()),
    }));
    await engine.appendBatch("a", series);
  }
  await engine.close();
  catalog.close();
  RollupStore.open(dir).close();
}

/** Overwrites `bytes` bytes at `offset` with garbage, as a bad disk or a stray write would. */
function scribble(path: string, offset: number, bytes: number): void {
  const fd = openSync(path, "r+");
  try {
    const garbage = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    writeSync(fd, garbage, 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
}

const dayPath = (offset: number) => join(samplesDir(dir), dayNumberFileName(day0 + offset));

describe("storage check and quarantine", () => {
  it("passes healthy files and names damaged ones", async () => {
    await fill();
    const healthy = checkStorage(dir);
    expect(healthy.map((c) => [c.path.slice(dir.length + 1), c.ok])).toEqual([
      ["vigil.db", true],
      ["rollups.db", true],
      [`samples/${dayNumberFileName(day0)}`, true],
      [`samples/${dayNumberFileName(day0 + 1)}`, true],
      [`samples/${dayNumberFileName(day0 + 2)}`, true],
    ]);
    // Day 1: garbage over B-tree pages in the middle; day 2: garbage over the header page.
    const size = statSync(dayPath(1)).size;
    expect(size).toBeGreaterThan(20 * 4096);
    scribble(dayPath(1), 4096 * 3, 4096 * 4);
    scribble(dayPath(2), 0, 100);
    for (const quick of [false, true]) {
      const checked = checkStorage(dir, { quick });
      expect(checked.map((c) => c.ok)).toEqual([true, true, true, false, false]);
      expect(checked[3]?.problems.length).toBeGreaterThan(0);
      expect(checked[4]?.problems.join()).toMatch(/not a database|malformed|corrupt/);
    }
  });

  it("moves failing day files aside with their -wal and -shm; the engine then serves the rest", async () => {
    await fill();
    // Garbage over the header: SQLite cannot even open it, so its -wal and -shm stay and must move with it.
    scribble(dayPath(1), 0, 100);
    writeFileSync(`${dayPath(1)}-wal`, "not a wal");
    writeFileSync(`${dayPath(1)}-shm`, "not a shm");
    const seen: QuarantinedFile[] = [];
    const nowMs = Date.UTC(2026, 0, 20, 8, 30, 5);
    const moved = quarantineBadDayFiles(dir, { nowMs, quick: false, onQuarantine: (f) => seen.push(f) });
    expect(seen).toEqual(moved);
    expect(moved.map((m) => [m.path, m.movedTo])).toEqual([
      [dayPath(1), `${dayPath(1)}.quarantined-20260120T083005Z`],
    ]);
    // (A read-only check leaves an empty -wal/-shm next to healthy files; SQLite removes them on the next
    // read-write close.)
    const healthyCompanions = (n: string) => /^\d{4}-\d{2}-\d{2}\.db-(wal|shm)$/.test(n);
    expect(
      readdirSync(samplesDir(dir))
        .filter((n) => !healthyCompanions(n))
        .sort(),
    ).toEqual(
      [
        dayNumberFileName(day0),
        `${dayNumberFileName(day0 + 1)}.quarantined-20260120T083005Z`,
        `${dayNumberFileName(day0 + 1)}.quarantined-20260120T083005Z-shm`,
        `${dayNumberFileName(day0 + 1)}.quarantined-20260120T083005Z-wal`,
        dayNumberFileName(day0 + 2),
      ].sort(),
    );
    expect(checkStorage(dir).every((c) => c.ok)).toBe(true);
    const catalog = Catalog.open(dir);
    const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
    try {
      const got = await engine.queryRange({
        agentId: "a",
        metric: "m",
        matchers: [{ name: "s", op: "=", value: "0" }],
        fromMs: DAY0,
        toMs: DAY0 + 3 * DAY_MS,
        stepMs: DAY_MS,
      });
      expect(got[0]?.points.map((p) => [p[0], p[4]])).toEqual([
        [DAY0, 1_000],
        [DAY0 + 2 * DAY_MS, 1_000],
      ]);
    } finally {
      await engine.close();
      catalog.close();
    }
    // Nothing more to quarantine.
    expect(quarantineBadDayFiles(dir, { nowMs })).toEqual([]);
  });
});
