import type { SeriesSamples } from "@vigil/common";
import { describe, expect, it } from "vitest";
import { ChunkedStorageEngine } from "./chunked-engine.js";
import { DAY_MS } from "./data-dir-layout.js";
import { dataDirPerTest, openEngineForTest } from "./engine-test-support.js";
import { SqliteStorageEngine } from "./sqlite-engine.js";
import { summarizeValues } from "./stats.js";
import type { StorageEngine } from "./storage-engine.js";
import { isStorageError } from "./storage-error.js";

const DAY = Date.UTC(2025, 10, 25);
const S = 1_000;

const data = dataDirPerTest("vigil-stats-");

type Kind = "chunked" | "sqlite";

function openStore(kind: Kind) {
  return openEngineForTest(
    data,
    (catalog, dataDir): StorageEngine =>
      kind === "chunked"
        ? ChunkedStorageEngine.open({ dataDir, catalog })
        : SqliteStorageEngine.open({ dataDir, catalog }),
  );
}

function series(metric: string, labels: Record<string, string>, points: [number, number][]): SeriesSamples {
  return { metric, labels, timestamps: points.map((p) => p[0]), values: points.map((p) => p[1]) };
}

/** Value k at DAY + k * 10 s, for k in [from, to]. */
function ramp(from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = from; k <= to; k++) out.push([DAY + k * 10 * S, k]);
  return out;
}

describe("summarizeValues", () => {
  it("takes p95 by nearest rank, without interpolation", () => {
    const one = (xs: number[]) => summarizeValues(Float64Array.from(xs));
    // 1..20: rank ceil(0.95 * 20) = 19 → 19. 1..10: rank ceil(9.5) = 10 → 10. 1..100: rank 95 → 95.
    expect(one(Array.from({ length: 20 }, (_, i) => 20 - i))).toEqual({
      min: 1,
      max: 20,
      avg: 10.5,
      p95: 19,
      count: 20,
    });
    expect(one(Array.from({ length: 10 }, (_, i) => i + 1))?.p95).toBe(10);
    expect(one(Array.from({ length: 100 }, (_, i) => i + 1))?.p95).toBe(95);
    expect(one([-3])).toEqual({ min: -3, max: -3, avg: -3, p95: -3, count: 1 });
    expect(one([])).toBeUndefined();
  });
});

describe.each<Kind>(["chunked", "sqlite"])("%s engine: queryStats and latest", (kind) => {
  it("computes stats over chunks, stragglers and the head, by hand", async () => {
    let store = openStore(kind);
    await store.engine.appendBatch("a", [
      series("m", { host: "a" }, ramp(1, 10)),
      series("m", { host: "b" }, [
        [DAY + 10 * S, 5],
        [DAY + 20 * S, 7],
      ]),
    ]);
    // Closing flushes the head: host a's 1..10 and host b are in chunks from here on.
    await store.close();
    store = openStore(kind);
    // 11..20 go to the head; 100 at DAY + 5 s is older than host a's last chunk: a straggler.
    await store.engine.appendBatch("a", [series("m", { host: "a" }, [...ramp(11, 20), [DAY + 5 * S, 100]])]);
    const all = await store.engine.queryStats({
      agentId: "a",
      metric: "m",
      matchers: [],
      fromMs: DAY,
      toMs: DAY + DAY_MS - 1,
    });
    // host a: 1..20 and 100 → 21 values, sum 310; sorted rank ceil(0.95 * 21) = 20 → 20.
    // host b: 5, 7 → rank ceil(1.9) = 2 → 7.
    expect(all).toEqual([
      { labels: { host: "a" }, min: 1, max: 100, avg: 310 / 21, p95: 20, count: 21 },
      { labels: { host: "b" }, min: 5, max: 7, avg: 6, p95: 7, count: 2 },
    ]);
    // 55 s..150 s: k = 6..15, half from a chunk cut by the range, half from the head.
    expect(
      await store.engine.queryStats({
        agentId: "a",
        metric: "m",
        matchers: [{ name: "host", op: "=", value: "a" }],
        fromMs: DAY + 55 * S,
        toMs: DAY + 150 * S,
      }),
    ).toEqual([{ labels: { host: "a" }, min: 6, max: 15, avg: 10.5, p95: 15, count: 10 }]);
    // A range without samples, an unknown metric: nothing.
    expect(
      await store.engine.queryStats({ agentId: "a", metric: "m", matchers: [], fromMs: 0, toMs: DAY - 1 }),
    ).toEqual([]);
    expect(
      await store.engine.queryStats({ agentId: "a", metric: "x", matchers: [], fromMs: 0, toMs: DAY }),
    ).toEqual([]);
    await expect(
      store.engine.queryStats({ agentId: "a", metric: "m", matchers: [], fromMs: 2, toMs: 1 }),
    ).rejects.toSatisfy((err) => isStorageError(err) && err.code === "invalid_query");
  });

  it("spans day files in stats", async () => {
    const { engine } = openStore(kind);
    await engine.appendBatch("a", [
      series("m", {}, [
        [DAY - 1, 4],
        [DAY, 2],
        [DAY + DAY_MS, 6],
      ]),
    ]);
    expect(
      await engine.queryStats({ agentId: "a", metric: "m", matchers: [], fromMs: 0, toMs: DAY * 2 }),
    ).toEqual([{ labels: {}, min: 2, max: 6, avg: 4, p95: 6, count: 3 }]);
  });

  it("returns the newest sample of every series, from the head, chunks or older day files", async () => {
    let store = openStore(kind);
    await store.engine.appendBatch("a", [
      series("m", { host: "a" }, ramp(1, 10)),
      series("m", { host: "b" }, [
        [DAY + 10 * S, 5],
        [DAY + 20 * S, 7],
      ]),
      // Only in yesterday's file.
      series("n", {}, [
        [DAY - 2 * S, 1.5],
        [DAY - S, 2.5],
      ]),
    ]);
    await store.engine.appendBatch("b", [series("m", { host: "a" }, [[DAY + 500 * S, 99]])]);
    await store.close();
    store = openStore(kind);
    await store.engine.appendBatch("a", [series("m", { host: "a" }, [...ramp(11, 12), [DAY + 5 * S, 100]])]);
    expect(await store.engine.latest({ agentId: "a" })).toEqual([
      { metric: "m", labels: { host: "a" }, ts: DAY + 120 * S, value: 12 },
      { metric: "m", labels: { host: "b" }, ts: DAY + 20 * S, value: 7 },
      { metric: "n", labels: {}, ts: DAY - S, value: 2.5 },
    ]);
    expect(await store.engine.latest({ agentId: "a", metric: "n" })).toEqual([
      { metric: "n", labels: {}, ts: DAY - S, value: 2.5 },
    ]);
    expect(await store.engine.latest({ agentId: "b" })).toEqual([
      { metric: "m", labels: { host: "a" }, ts: DAY + 500 * S, value: 99 },
    ]);
    expect(await store.engine.latest({ agentId: "nobody" })).toEqual([]);
    // After a clean stop everything is in chunks; the answer is the same.
    await store.close();
    store = openStore(kind);
    expect((await store.engine.latest({ agentId: "a", metric: "m" }))[0]).toEqual({
      metric: "m",
      labels: { host: "a" },
      ts: DAY + 120 * S,
      value: 12,
    });
  });
});
