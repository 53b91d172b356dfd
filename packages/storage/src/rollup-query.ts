import type { Labels } from "@vigil/common";
import { DAY_MS, dayNumber } from "./data-dir-layout.js";
import { HOUR_MS, MINUTE_MS, type RollupResolution, type RollupStore } from "./rollups.js";
import type { BucketPoint, RangeQuery, SeriesInfo, SeriesRange } from "./storage-engine.js";

/**
 * Which resolution answers a step query: 1 hour when the step is a whole number of hours and `fromMs`
 * is on the hour (every bucket is then a union of whole rollup hours, so the answer equals the raw one),
 * else 1 minute (exact when the step is whole minutes and `fromMs` on the minute; otherwise each
 * rollup minute counts in the bucket its start falls in).
 */
export function rollupResolution(fromMs: number, stepMs: number): RollupResolution {
  return stepMs % HOUR_MS === 0 && fromMs % HOUR_MS === 0 ? "1h" : "1m";
}

/**
 * A step query answered from raw day files where they exist and from rollups for the days that have
 * no raw file any more (retention deleted it), plus, for whole-hour steps on the hour, the finalized
 * days (long ranges stay fast while raw data exists). `readRaw(days)` is the engine's own step read
 * restricted to those day files. A bucket fed by both (a step that does not divide the day) merges the
 * raw bucket's avg × count with the rollup sums.
 */
export function stepQueryWithRollups(
  store: RollupStore,
  query: RangeQuery,
  stepMs: number,
  selected: readonly SeriesInfo[],
  daysWithFiles: readonly number[],
  readRaw: (days: number[]) => SeriesRange<BucketPoint>[],
): SeriesRange<BucketPoint>[] {
  const { fromMs, toMs } = query;
  const resolution = rollupResolution(fromMs, stepMs);
  const withFile = new Set(daysWithFiles);
  const finalized = resolution === "1h" ? store.finalizedDays() : new Map<number, number>();
  const rollupDays: number[] = [];
  for (let d = dayNumber(fromMs); d <= dayNumber(toMs); d++)
    if (!withFile.has(d) || finalized.has(d)) rollupDays.push(d);
  const rawDays = daysWithFiles.filter((d) => !rollupDays.includes(d));
  const raw = rawDays.length > 0 ? readRaw(rawDays) : [];
  if (rollupDays.length === 0) return raw;

  const bucketMs = resolution === "1h" ? HOUR_MS : MINUTE_MS;
  const byLabels = new Map<Labels, Map<number, BucketPoint>>();
  for (const r of raw) {
    const m = new Map<number, BucketPoint>();
    for (const p of r.points) m.set(Math.floor((p[0] - fromMs) / stepMs), p);
    byLabels.set(r.labels, m);
  }
  const out: SeriesRange<BucketPoint>[] = [];
  for (const s of selected) {
    const points = byLabels.get(s.labels) ?? new Map<number, BucketPoint>();
    for (const [first, last] of runs(rollupDays)) {
      // Rollup rows whose bucket overlaps [fromMs, toMs] within these days.
      const lo = Math.max(first * DAY_MS, fromMs - (fromMs % bucketMs));
      const hi = Math.min((last + 1) * DAY_MS - 1, toMs);
      if (lo > hi) continue;
      for (const [ts, count, min, max, sum] of store.range(resolution, s.id, lo, hi)) {
        const k = Math.floor((Math.max(ts, fromMs) - fromMs) / stepMs);
        const b = points.get(k);
        if (!b) {
          points.set(k, [fromMs + k * stepMs, sum / count, min, max, count]);
          continue;
        }
        const n = b[4] + count;
        points.set(k, [b[0], (b[1] * b[4] + sum) / n, Math.min(b[2], min), Math.max(b[3], max), n]);
      }
    }
    if (points.size > 0)
      out.push({
        labels: s.labels,
        points: [...points.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]),
      });
  }
  return out;
}

/** Consecutive runs in an ascending list of days: [first, last] pairs. */
function runs(days: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const d of days) {
    const last = out[out.length - 1];
    if (last && last[1] === d - 1) last[1] = d;
    else out.push([d, d]);
  }
  return out;
}
