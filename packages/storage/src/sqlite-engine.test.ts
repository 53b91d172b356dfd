import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { SeriesSamples } from "@vigil/common";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { dayFilePath, samplesDir } from "./data-dir-layout.js";
import { dataDirPerTest, openEngineForTest } from "./engine-test-support.js";
import { SqliteStorageEngine, type SqliteStorageEngineOptions } from "./sqlite-engine.js";
import { isStorageError } from "./storage-error.js";

/** 2025-11-25T00:00:00Z: a midnight, so tests can straddle it. */
const DAY = Date.UTC(2025, 10, 25);
const MIN = 60_000;
const HOUR = 60 * MIN;

const data = dataDirPerTest("vigil-engine-");

function openStore(options: Partial<SqliteStorageEngineOptions> = {}) {
  return openEngineForTest(data, (catalog, dataDir) =>
    SqliteStorageEngine.open({ dataDir, catalog, ...options }),
  );
}

function series(metric: string, labels: Record<string, string>, points: [number, number][]): SeriesSamples {
  return { metric, labels, timestamps: points.map((p) => p[0]), values: points.map((p) => p[1]) };
}

/** The rows of a day file as a user would see them with the sqlite3 shell. */
function rowsOf(tsMs: number): unknown[] {
  const db = new Database(dayFilePath(data.path, tsMs), { readonly: true, fileMustExist: true });
  const rows = db
    .prepare("SELECT series_id, ts, typeof(ts) AS ts_type, value FROM samples ORDER BY series_id, ts")
    .all();
  db.close();
  return rows;
}

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isStorageError(err) ? `${err.code}: ${err.message}` : `not a StorageError: ${String(err)}`;
  }
  return "resolved";
}

describe("appendBatch", () => {
  it("is idempotent: the same batch twice writes once and counts duplicates", async () => {
    const { engine } = openStore();
    const batch = [
      series("cpu_usage_percent", { cpu: "total" }, [
        [DAY + 1_000, 12.5],
        [DAY + 2_000, 13],
      ]),
      series("memory_used_bytes", {}, [[DAY + 1_000, 16_777_216_000]]),
    ];
    expect(await engine.appendBatch("web-1", batch)).toEqual({ accepted: 3, duplicates: 0 });
    const before = rowsOf(DAY);
    expect(before).toHaveLength(3);
    expect(await engine.appendBatch("web-1", batch)).toEqual({ accepted: 0, duplicates: 3 });
    expect(rowsOf(DAY)).toEqual(before);
  });

  it("counts a repeated timestamp within one batch as a duplicate, keeping the first value", async () => {
    const { engine } = openStore();
    const result = await engine.appendBatch("a", [
      series("load1", {}, [
        [DAY, 1],
        [DAY, 2],
      ]),
    ]);
    expect(result).toEqual({ accepted: 1, duplicates: 1 });
    expect(
      (await engine.queryRange({ agentId: "a", metric: "load1", matchers: [], fromMs: DAY, toMs: DAY }))[0]
        ?.points,
    ).toEqual([[DAY, 1]]);
  });

  it("writes a batch that spans midnight into the two day files, exactly", async () => {
    const { engine, catalog } = openStore();
    const batch = [
      series("load1", {}, [
        [DAY - 1, 0.5],
        [DAY, 0.75],
        [DAY + 1, 1],
      ]),
      series("load5", {}, [[DAY - 1_000, 2.25]]),
    ];
    expect(await engine.appendBatch("web-1", batch)).toEqual({ accepted: 4, duplicates: 0 });
    const load1 = catalog.seriesId("web-1", "load1", {});
    const load5 = catalog.seriesId("web-1", "load5", {});
    expect(
      readdirSync(samplesDir(data.path))
        .filter((n) => n.endsWith(".db"))
        .sort(),
    ).toEqual(["2025-11-24.db", "2025-11-25.db"]);
    expect(rowsOf(DAY - 1)).toEqual(
      [
        { series_id: load1, ts: DAY - 1, ts_type: "integer", value: 0.5 },
        { series_id: load5, ts: DAY - 1_000, ts_type: "integer", value: 2.25 },
      ].sort((a, b) => a.series_id - b.series_id),
    );
    expect(rowsOf(DAY)).toEqual([
      { series_id: load1, ts: DAY, ts_type: "integer", value: 0.75 },
      { series_id: load1, ts: DAY + 1, ts_type: "integer", value: 1 },
    ]);
  });

  it("stores values exactly as doubles (except -0, which SQLite reads back as 0)", async () => {
    const { engine } = openStore();
    const values = [0.1, 0, 1e308, -1e-308, 2 ** 53, 99.99, -5e-324];
    await engine.appendBatch("a", [
      series(
        "m",
        {},
        values.map((v, i): [number, number] => [DAY + i, v]),
      ),
    ]);
    const [got] = await engine.queryRange({
      agentId: "a",
      metric: "m",
      matchers: [],
      fromMs: DAY,
      toMs: DAY + 10,
    });
    expect(got?.points.map((p) => p[1])).toEqual(values);
  });

  it.each([
    ["a NaN value", series("m", {}, [[DAY, Number.NaN]]), /value NaN at position 0 is not finite/],
    [
      "an infinite value",
      series("m", {}, [
        [DAY, 1],
        [DAY + 1, -Infinity],
      ]),
      /value -Infinity at position 1 is not finite/,
    ],
    [
      "a fractional timestamp",
      series("m", {}, [[DAY + 0.5, 1]]),
      /timestamp .* at position 0 is not whole Unix milliseconds/,
    ],
    ["a negative timestamp", series("m", {}, [[-1, 1]]), /timestamp -1 at position 0/],
    ["a timestamp past year 9999", series("m", {}, [[253_402_300_800_000, 1]]), /timestamp 253402300800000/],
    [
      "a length mismatch",
      { metric: "m", labels: {}, timestamps: [DAY, DAY + 1], values: [1] },
      /has 2 timestamps but 1 values/,
    ],
    ["a bad metric name", series("1m", {}, [[DAY, 1]]), /series 1 has an invalid metric name "1m"/],
  ])("refuses %s and writes nothing of the batch", async (_name, bad, message) => {
    const { engine, catalog } = openStore();
    const good = series("good_metric", { cpu: "0" }, [[DAY, 1]]);
    const code = await rejectionCode(engine.appendBatch("web-1", [good, bad]));
    expect(code).toMatch(/^invalid_batch: batch from agent "web-1"/);
    expect(code).toMatch(message);
    expect(existsSync(samplesDir(data.path))).toBe(false);
    expect(catalog.findSeries({})).toEqual([]);
  });

  it("accepts an empty batch without touching disk", async () => {
    const { engine } = openStore();
    expect(await engine.appendBatch("a", [])).toEqual({ accepted: 0, duplicates: 0 });
    expect(await engine.appendBatch("a", [series("m", {}, [])])).toEqual({ accepted: 0, duplicates: 0 });
    expect(existsSync(samplesDir(data.path))).toBe(false);
  });

  it("keeps at most maxOpenDays files open, yet reads every day", async () => {
    const { engine } = openStore({ maxOpenDays: 2 });
    const points: [number, number][] = [0, 1, 2, 3, 4].map((d) => [DAY + d * 24 * HOUR + HOUR, d]);
    await engine.appendBatch("a", [series("m", {}, points)]);
    expect(readdirSync(samplesDir(data.path)).filter((n) => n.endsWith(".db"))).toHaveLength(5);
    expect(engine.openDayFiles).toBeLessThanOrEqual(2);
    const [got] = await engine.queryRange({
      agentId: "a",
      metric: "m",
      matchers: [],
      fromMs: DAY,
      toMs: DAY + 5 * 24 * HOUR,
    });
    expect(got?.points).toEqual(points);
    expect(engine.openDayFiles).toBeLessThanOrEqual(2);
  });
});

describe("queryRange", () => {
  // load1 of agent web-1 around midnight; one sample just outside each end of the test ranges.
  const LOAD: [number, number][] = [
    [DAY - 31 * MIN, 99], // before every range below
    [DAY - 30 * MIN, 10],
    [DAY - 10 * MIN, 20],
    [DAY + 5 * MIN, 40],
    [DAY + 50 * MIN, 30],
    [DAY + 70 * MIN, 5],
    [DAY + 90 * MIN, 7],
    [DAY + 91 * MIN, 99], // after every range below
  ];

  async function seeded(options: Partial<SqliteStorageEngineOptions> = {}) {
    const store = openStore(options);
    await store.engine.appendBatch("web-1", [series("load1", {}, LOAD)]);
    await store.engine.appendBatch("web-2", [series("load1", {}, [[DAY, 1234]])]);
    return store;
  }

  it("returns raw points in [from, to], both ends inclusive, across day files", async () => {
    const { engine } = await seeded();
    const result = await engine.queryRange({
      agentId: "web-1",
      metric: "load1",
      matchers: [],
      fromMs: DAY - 10 * MIN,
      toMs: DAY + 50 * MIN,
    });
    expect(result).toEqual([
      {
        labels: {},
        points: [
          [DAY - 10 * MIN, 20],
          [DAY + 5 * MIN, 40],
          [DAY + 50 * MIN, 30],
        ],
      },
    ]);
  });

  it("aggregates step buckets aligned to from, merging a bucket that straddles midnight", async () => {
    const { engine } = await seeded();
    const result = await engine.queryRange({
      agentId: "web-1",
      metric: "load1",
      matchers: [],
      fromMs: DAY - 30 * MIN,
      toMs: DAY + 90 * MIN,
      stepMs: HOUR,
    });
    expect(result).toEqual([
      {
        labels: {},
        points: [
          // [23:30, 00:30): 10 and 20 from the 24th's file, 40 from the 25th's
          [DAY - 30 * MIN, 70 / 3, 10, 40, 3],
          // [00:30, 01:30): 30 and 5
          [DAY + 30 * MIN, 17.5, 5, 30, 2],
          // [01:30, 02:30): only 7, at `to` itself
          [DAY + 90 * MIN, 7, 7, 7, 1],
        ],
      },
    ]);
  });

  it("leaves out empty buckets", async () => {
    const { engine } = await seeded();
    const [got] = await engine.queryRange({
      agentId: "web-1",
      metric: "load1",
      matchers: [],
      fromMs: DAY - 30 * MIN,
      toMs: DAY + 90 * MIN,
      stepMs: 20 * MIN,
    });
    // Buckets start at -30, -10, 10, 30, 50, 70, 90 minutes; 10 and 30 hold nothing.
    expect(got?.points.map((p) => [(p[0] - DAY) / MIN, p[1], p[4]])).toEqual([
      [-30, 10, 1],
      [-10, 30, 2],
      [50, 30, 1],
      [70, 5, 1],
      [90, 7, 1],
    ]);
  });

  it("filters series by label matchers, a missing label reading as empty", async () => {
    const { engine } = openStore();
    await engine.appendBatch("a", [
      series("cpu_usage_percent", { cpu: "total" }, [[DAY, 50]]),
      series("cpu_usage_percent", { cpu: "1" }, [[DAY, 11]]),
      series("cpu_usage_percent", { cpu: "0" }, [[DAY, 10]]),
      series("cpu_usage_percent", {}, [[DAY, 1]]),
      series("load1", { cpu: "0" }, [[DAY, 0.5]]),
    ]);
    await engine.appendBatch("b", [series("cpu_usage_percent", { cpu: "0" }, [[DAY, 77]])]);
    const q = (matchers: { name: string; op: "=" | "!="; value: string }[]) =>
      engine.queryRange({ agentId: "a", metric: "cpu_usage_percent", matchers, fromMs: DAY, toMs: DAY });

    expect(await q([])).toEqual([
      { labels: { cpu: "0" }, points: [[DAY, 10]] },
      { labels: { cpu: "1" }, points: [[DAY, 11]] },
      { labels: { cpu: "total" }, points: [[DAY, 50]] },
      { labels: {}, points: [[DAY, 1]] },
    ]);
    expect(await q([{ name: "cpu", op: "=", value: "0" }])).toEqual([
      { labels: { cpu: "0" }, points: [[DAY, 10]] },
    ]);
    expect((await q([{ name: "cpu", op: "!=", value: "total" }])).map((s) => s.labels)).toEqual([
      { cpu: "0" },
      { cpu: "1" },
      {},
    ]);
    expect((await q([{ name: "cpu", op: "=", value: "" }])).map((s) => s.labels)).toEqual([{}]);
    expect(
      await q([
        { name: "cpu", op: "!=", value: "0" },
        { name: "cpu", op: "!=", value: "1" },
        { name: "cpu", op: "!=", value: "" },
      ]),
    ).toEqual([{ labels: { cpu: "total" }, points: [[DAY, 50]] }]);
    expect(await q([{ name: "cpu", op: "=", value: "9" }])).toEqual([]);
  });

  it("leaves out series with no point in the range, and answers [] for unknown agents or metrics", async () => {
    const { engine } = await seeded();
    expect(
      await engine.queryRange({
        agentId: "web-1",
        metric: "load1",
        matchers: [],
        fromMs: DAY + 2 * HOUR,
        toMs: DAY + 3 * HOUR,
      }),
    ).toEqual([]);
    expect(
      await engine.queryRange({
        agentId: "nobody",
        metric: "load1",
        matchers: [],
        fromMs: DAY,
        toMs: DAY + HOUR,
      }),
    ).toEqual([]);
    expect(
      await engine.queryRange({
        agentId: "web-1",
        metric: "load5",
        matchers: [],
        fromMs: DAY,
        toMs: DAY + HOUR,
      }),
    ).toEqual([]);
  });

  it("never creates files when reading", async () => {
    const fresh = openStore();
    expect(
      await fresh.engine.queryRange({ agentId: "a", metric: "m", matchers: [], fromMs: 0, toMs: DAY }),
    ).toEqual([]);
    await fresh.catalog.seriesId("a", "m", {});
    expect(
      await fresh.engine.queryRange({
        agentId: "a",
        metric: "m",
        matchers: [],
        fromMs: 0,
        toMs: DAY,
        stepMs: DAY,
      }),
    ).toEqual([]);
    expect(existsSync(samplesDir(data.path))).toBe(false);

    await fresh.engine.appendBatch("a", [series("m", {}, [[DAY, 1]])]);
    await fresh.engine.queryRange({
      agentId: "a",
      metric: "m",
      matchers: [],
      fromMs: DAY - 3 * 24 * HOUR,
      toMs: DAY + 3 * 24 * HOUR,
    });
    expect(readdirSync(samplesDir(data.path)).filter((n) => n.endsWith(".db"))).toEqual(["2025-11-25.db"]);
  });

  it("refuses a raw query past the per-series point cap, counting across day files", async () => {
    const { engine } = await seeded({ maxRawPointsPerSeries: 3 });
    // Exactly at the cap is fine.
    const three = await engine.queryRange({
      agentId: "web-1",
      metric: "load1",
      matchers: [],
      fromMs: DAY - 30 * MIN,
      toMs: DAY + 5 * MIN,
    });
    expect(three[0]?.points).toHaveLength(3);
    const code = await rejectionCode(
      engine.queryRange({
        agentId: "web-1",
        metric: "load1",
        matchers: [],
        fromMs: DAY - 30 * MIN,
        toMs: DAY + 50 * MIN,
      }),
    );
    expect(code).toBe(
      'too_many_points: raw query for load1{} of agent "web-1" would return more than 3 points; narrow the range or pass a step',
    );
    // The same range with a step is fine.
    const stepped = await engine.queryRange({
      agentId: "web-1",
      metric: "load1",
      matchers: [],
      fromMs: DAY - 30 * MIN,
      toMs: DAY + 50 * MIN,
      stepMs: HOUR,
    });
    expect(stepped[0]?.points).toHaveLength(2);
  });

  it("caps the default raw points per series at 100,000", async () => {
    const { engine } = openStore();
    const n = 100_001;
    const timestamps = Array.from({ length: n }, (_, i) => DAY + i);
    await engine.appendBatch("a", [{ metric: "m", labels: {}, timestamps, values: timestamps.map(() => 1) }]);
    const q = (toMs: number) =>
      engine.queryRange({ agentId: "a", metric: "m", matchers: [], fromMs: DAY, toMs });
    expect((await q(DAY + n - 2))[0]?.points).toHaveLength(100_000);
    expect(await rejectionCode(q(DAY + n - 1))).toMatch(/^too_many_points: .* more than 100000 points/);
  });

  const base = { agentId: "a", metric: "m", matchers: [] };
  it.each([
    ["from after to", { ...base, fromMs: 10, toMs: 9 }, "invalid_query: fromMs 10 is after toMs 9"],
    [
      "a fractional from",
      { ...base, fromMs: 1.5, toMs: 9 },
      "invalid_query: fromMs 1.5 is not whole Unix milliseconds",
    ],
    [
      "a NaN to",
      { ...base, fromMs: 1, toMs: Number.NaN },
      "invalid_query: toMs NaN is not whole Unix milliseconds",
    ],
    [
      "a zero step",
      { ...base, fromMs: 0, toMs: 9, stepMs: 0 },
      "invalid_query: stepMs 0 must be a whole number of milliseconds above 0",
    ],
    [
      "a negative step",
      { ...base, fromMs: 0, toMs: 9, stepMs: -5 },
      "invalid_query: stepMs -5 must be a whole number of milliseconds above 0",
    ],
    [
      "too many buckets",
      { ...base, fromMs: 0, toMs: 11_000_000, stepMs: 1_000 },
      "invalid_query: step 1000 ms over 11000000 ms makes 11001 buckets, more than 11000; use a step of at least 1001 ms",
    ],
    [
      "an empty agent",
      { ...base, agentId: "", fromMs: 0, toMs: 1 },
      "invalid_query: query has an empty agent id",
    ],
  ])("refuses %s with a precise message", async (_name, query, message) => {
    const { engine } = openStore();
    expect(await rejectionCode(engine.queryRange(query))).toBe(message);
  });

  it("allows exactly the bucket cap", async () => {
    const { engine } = openStore();
    expect(await engine.queryRange({ ...base, fromMs: 0, toMs: 10_999_999, stepMs: 1_000 })).toEqual([]);
  });
});

describe("listSeries", () => {
  it("lists series by agent and metric", async () => {
    const { engine } = openStore();
    await engine.appendBatch("a", [
      series("load1", {}, [[DAY, 1]]),
      series("cpu_usage_percent", { cpu: "0" }, [[DAY, 1]]),
    ]);
    await engine.appendBatch("b", [series("load1", {}, [[DAY, 1]])]);
    expect((await engine.listSeries({ agentId: "a" })).map((s) => s.metric)).toEqual([
      "cpu_usage_percent",
      "load1",
    ]);
    expect((await engine.listSeries({ metric: "load1" })).map((s) => s.agentId)).toEqual(["a", "b"]);
    expect(await engine.listSeries({ agentId: "a", metric: "cpu_usage_percent" })).toEqual([
      { id: expect.any(Number), agentId: "a", metric: "cpu_usage_percent", labels: { cpu: "0" } },
    ]);
  });
});

describe("lifecycle", () => {
  it("keeps samples and series ids across reopening the data dir", async () => {
    const batch = [
      series("load1", { x: "1" }, [
        [DAY, 1],
        [DAY + 1, 2],
      ]),
      series("load5", {}, [[DAY - 1, 3]]),
    ];
    const first = openStore();
    await first.engine.appendBatch("web-1", batch);
    const ids = (await first.engine.listSeries({})).map((s) => s.id);
    await first.close();

    const again = openStore();
    expect((await again.engine.listSeries({})).map((s) => s.id)).toEqual(ids);
    // The fresh cache resolves to the same ids, so the resent batch is all duplicates.
    expect(await again.engine.appendBatch("web-1", batch)).toEqual({ accepted: 0, duplicates: 3 });
    expect(again.catalog.seriesId("web-1", "load1", { x: "1" })).toBe(ids[0]);
    const newId = again.catalog.seriesId("web-1", "load15", {});
    expect(newId).toBeGreaterThan(Math.max(...ids));
    expect(
      await again.engine.queryRange({
        agentId: "web-1",
        metric: "load1",
        matchers: [],
        fromMs: DAY - HOUR,
        toMs: DAY + HOUR,
      }),
    ).toEqual([
      {
        labels: { x: "1" },
        points: [
          [DAY, 1],
          [DAY + 1, 2],
        ],
      },
    ]);
  });

  it("rejects every call once closed, including a second close", async () => {
    const { engine, close } = openStore();
    await close();
    expect(await rejectionCode(engine.appendBatch("a", []))).toBe("closed: storage engine is closed");
    expect(
      await rejectionCode(engine.queryRange({ agentId: "a", metric: "m", matchers: [], fromMs: 0, toMs: 1 })),
    ).toMatch(/^closed/);
    expect(await rejectionCode(engine.listSeries({}))).toMatch(/^closed/);
    expect(await rejectionCode(engine.close())).toMatch(/^closed/);
  });

  it("leaves day files that a plain connection can read after close, in WAL mode with no leftover WAL", async () => {
    const { engine, close } = openStore();
    await engine.appendBatch("a", [
      series("m", {}, [
        [DAY, 1.5],
        [DAY - 1, 2.5],
      ]),
    ]);
    await close();
    // Closing the last connection checkpoints the WAL into the file and removes -wal and -shm.
    expect(readdirSync(samplesDir(data.path)).sort()).toEqual(["2025-11-24.db", "2025-11-25.db"]);
    for (const ts of [DAY, DAY - 1]) {
      const db = new Database(dayFilePath(data.path, ts), { readonly: true, fileMustExist: true });
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.prepare("SELECT count(*) FROM samples").pluck().get()).toBe(1);
      db.close();
    }
  });

  // .ci/run installs Debian's sqlite3 shell: users read these files with it, so the test needs it too.
  it("leaves files the sqlite3 shell can query", async () => {
    const { engine, close } = openStore();
    await engine.appendBatch("a", [series("m", {}, [[DAY, 1.5]])]);
    await close();
    const out = spawnSync("sqlite3", [dayFilePath(data.path, DAY), "SELECT ts, value FROM samples"], {
      encoding: "utf8",
    });
    expect(out.stdout.trim()).toBe(`${DAY}|1.5`);
    const cat = spawnSync(
      "sqlite3",
      [join(data.path, "vigil.db"), "SELECT agent_id, metric, labels FROM series"],
      {
        encoding: "utf8",
      },
    );
    expect(cat.stdout.trim()).toBe("a|m|{}");
  });
});
