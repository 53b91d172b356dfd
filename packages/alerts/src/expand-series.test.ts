import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandSeriesValues, STALE } from "./expand-series.js";

describe("expandSeriesValues", () => {
  it("expands promtool's notation", () => {
    expect(expandSeriesValues("0+10x3")).toEqual([0, 10, 20, 30]);
    expect(expandSeriesValues("5-1x2")).toEqual([5, 4, 3]);
    expect(expandSeriesValues("-2+4x2")).toEqual([-2, 2, 6]);
    expect(expandSeriesValues("7x2")).toEqual([7, 7, 7]);
    expect(expandSeriesValues("1 _ 3 stale")).toEqual([1, undefined, 3, STALE]);
    expect(expandSeriesValues("_x3 1")).toEqual([undefined, undefined, undefined, 1]);
    expect(expandSeriesValues("1.5e3 Inf -Inf")).toEqual([
      1500,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(expandSeriesValues("NaN")[0]).toBeNaN();
    expect(expandSeriesValues("  ")).toEqual([]);
  });

  it("gives n+1 values for a+bxn", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: -50, max: 50 }),
        fc.nat(200),
        (a, b, n) => {
          const text = `${a}${b < 0 ? "-" : "+"}${Math.abs(b)}x${n}`;
          const got = expandSeriesValues(text);
          expect(got).toHaveLength(n + 1);
          expect(got[n]).toBe(a + n * b);
        },
      ),
    );
  });

  it.each(["1+x3", "x3", "1+2", "abc", "1x", "_x", "1+2x-3", "0+1x9999999"])("rejects %s", (text) => {
    expect(() => expandSeriesValues(text)).toThrow();
  });
});
