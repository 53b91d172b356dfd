import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.js";

const take = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());

describe("Backoff", () => {
  it("waits 0 when the random draw is 0", () => {
    expect(take(new Backoff(100, 1_000, () => 0), 6)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("waits the whole ceiling when the draw is 1: it doubles from initial up to max", () => {
    expect(take(new Backoff(100, 1_000, () => 1), 7)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("scales the ceiling by the draw and rounds to whole milliseconds", () => {
    expect(take(new Backoff(100, 10_000, () => 0.5), 4)).toEqual([50, 100, 200, 400]);
    expect(take(new Backoff(3, 10_000, () => 0.5), 3)).toEqual([2, 3, 6]);
  });

  it("starts again from initial after reset", () => {
    const b = new Backoff(100, 1_000, () => 1);
    take(b, 5);
    b.reset();
    expect(take(b, 3)).toEqual([100, 200, 400]);
  });

  it("caps the exponent, so a long outage never overflows to Infinity or NaN", () => {
    const b = new Backoff(1, Number.MAX_SAFE_INTEGER, () => 1);
    const waits = take(b, 100);
    expect(waits.slice(0, 4)).toEqual([1, 2, 4, 8]);
    expect(waits.at(-1)).toBe(2 ** 30);
    expect(waits.every(Number.isSafeInteger)).toBe(true);
  });

  it("keeps every wait within [0, min(max, initial * 2^n)] (full jitter)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 40,
        }),
        (initial, extra, draws) => {
          const max = initial + extra;
          let i = 0;
          const b = new Backoff(initial, max, () => draws[i] as number);
          for (i = 0; i < draws.length; i++) {
            const wait = b.next();
            const ceiling = Math.min(max, initial * 2 ** i);
            expect(wait).toBe(Math.round((draws[i] as number) * ceiling));
            expect(wait).toBeGreaterThanOrEqual(0);
            expect(wait).toBeLessThanOrEqual(ceiling);
          }
        },
      ),
    );
  });
});
