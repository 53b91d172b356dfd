import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_WINDOW_ENTRIES, SlidingWindow } from "./window.js";

/** Reference least squares: two passes, centred, straight from the definition (no running sums). */
function referenceRegression(points: readonly [number, number][], atTs: number) {
  const n = points.length;
  const xs = points.map(([t]) => (t - atTs) / 1000);
  const ys = points.map(([, v]) => v);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  if (ys.every((y) => y === ys[0])) return { slope: 0, intercept: ys[0] as number };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

const both = { sums: true, extrema: true };

describe("SlidingWindow", () => {
  it("keeps samples in (ts - span, ts] and drops the rest", () => {
    const w = new SlidingWindow(10_000, both);
    for (let t = 0; t <= 20_000; t += 1_000) w.push(t, t / 1000);
    expect(w.size).toBe(10);
    expect(w.oldestTs()).toBe(11_000);
    expect(w.min()).toBe(11);
    expect(w.max()).toBe(20);
  });

  it("ignores resends, out-of-order samples and non-finite values", () => {
    const w = new SlidingWindow(60_000, both);
    expect(w.push(1_000, 1)).toBe(true);
    expect(w.push(1_000, 5)).toBe(false);
    expect(w.push(500, 5)).toBe(false);
    expect(w.push(2_000, Number.NaN)).toBe(false);
    expect(w.push(2_000, Number.POSITIVE_INFINITY)).toBe(false);
    expect(w.size).toBe(1);
    expect(w.max()).toBe(1);
  });

  it("tracks min and max like a scan of the window", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: -50, max: 50 })), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.integer({ min: 1_000, max: 60_000 }),
        (steps, span) => {
          const w = new SlidingWindow(span, { sums: false, extrema: true });
          const kept: [number, number][] = [];
          let t = 0;
          for (const [dt, v] of steps) {
            t += dt;
            w.push(t, v);
            kept.push([t, v]);
            while ((kept[0] as [number, number])[0] <= t - span) kept.shift();
            const vs = kept.map(([, x]) => x);
            expect(w.size).toBe(kept.length);
            expect(w.min()).toBe(Math.min(...vs));
            expect(w.max()).toBe(Math.max(...vs));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives predict_linear's numbers to 1e-9 relative error on 1,000 random series", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 30_000 }),
            // Metric-like values: up to ±1e6 with three decimals.
            fc.integer({ min: -1e9, max: 1e9 }).map((i) => i / 1000),
          ),
          { minLength: 2, maxLength: 400 },
        ),
        fc.integer({ min: 10_000, max: 3_600_000 }),
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.integer({ min: -1e7, max: 1e7 }).map((i) => i / 1000),
        (steps, span, start, offset) => {
          const w = new SlidingWindow(span, both);
          const kept: [number, number][] = [];
          let t = start;
          for (const [dt, v] of steps) {
            t += dt;
            // A trend on top of noise and an offset, like a filling disk.
            const value = offset * 1000 + v;
            w.push(t, value);
            kept.push([t, value]);
            while ((kept[0] as [number, number])[0] <= t - span) kept.shift();
          }
          if (kept.length < 2) {
            expect(w.regression(t)).toBeUndefined();
            return;
          }
          const ref = referenceRegression(kept, t);
          const got = w.regression(t);
          expect(got).toBeDefined();
          const scale = Math.max(...kept.map(([, v]) => Math.abs(v)), 1);
          const spread = Math.max(...kept.map(([, v]) => v)) - Math.min(...kept.map(([, v]) => v));
          const spanS = Math.max((t - (kept[0] as [number, number])[0]) / 1000, 1);
          // Relative to the slope's natural scale (spread per span) and to the values.
          expect(Math.abs((got?.slope ?? 0) - ref.slope)).toBeLessThanOrEqual(
            1e-9 * (Math.abs(ref.slope) + spread / spanS),
          );
          expect(Math.abs((got?.intercept ?? 0) - ref.intercept)).toBeLessThanOrEqual(
            1e-9 * (Math.abs(ref.intercept) + scale),
          );
          const horizon = 3_600;
          const predicted = w.predictLinear(t, horizon) as number;
          const refPredicted = ref.slope * horizon + ref.intercept;
          expect(Math.abs(predicted - refPredicted)).toBeLessThanOrEqual(
            1e-9 * (Math.abs(refPredicted) + scale + (spread / spanS) * horizon),
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("matches Prometheus on a hand-computed line", () => {
    // v = 10 + 2·s at s = 0..4 seconds: slope 2/s; predict_linear 10 s after the last sample is 8 + 20.
    const w = new SlidingWindow(60_000, both);
    for (let s = 0; s <= 4; s++) w.push(s * 1000, 10 + 2 * s);
    expect(w.regression(4_000)).toEqual({ slope: 2, intercept: 18 });
    expect(w.predictLinear(4_000, 10)).toBe(38);
  });

  it("returns Prometheus' constant case exactly", () => {
    const w = new SlidingWindow(60_000, both);
    for (let s = 0; s < 5; s++) w.push(s * 1000, 7.25);
    expect(w.regression(4_000)).toEqual({ slope: 0, intercept: 7.25 });
  });

  it("stays precise over a long run of evictions (sums are rebuilt)", () => {
    const w = new SlidingWindow(60_000, both);
    const start = 1_764_000_000_000;
    for (let i = 0; i < 200_000; i++) w.push(start + i * 1000, 1e12 + i * 4096 + (i % 7));
    const kept: [number, number][] = [];
    w.forEach((t, v) => {
      kept.push([t, v]);
    });
    const t = start + 199_999 * 1000;
    const ref = referenceRegression(kept, t);
    const got = w.regression(t) as { slope: number; intercept: number };
    expect(Math.abs(got.slope - ref.slope) / ref.slope).toBeLessThan(1e-9);
    expect(Math.abs(got.intercept - ref.intercept) / ref.intercept).toBeLessThan(1e-12);
  });

  it("grows and shrinks its storage with the sample rate, and caps it", () => {
    const w = new SlidingWindow(1_000_000, both);
    for (let i = 0; i < 1000; i++) w.push(i, i);
    expect(w.capacity).toBe(1024);
    // One sample far later evicts the rest and the storage shrinks back.
    w.push(10_000_000, 1);
    expect(w.size).toBe(1);
    expect(w.capacity).toBeLessThanOrEqual(512);
    const big = new SlidingWindow(1e12, { sums: true, extrema: false });
    for (let i = 0; i < MAX_WINDOW_ENTRIES + 10; i++) big.push(i, i);
    expect(big.size).toBe(MAX_WINDOW_ENTRIES);
    expect(big.oldestTs()).toBe(10);
  });
});
