import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CounterDeltas } from "./counter-delta.js";

describe("CounterDeltas", () => {
  it("gives nothing for a key's first reading, then the change and the time between readings", () => {
    const c = new CounterDeltas();
    expect(c.next("eth0", [100, 7], 1_000)).toBeUndefined();
    expect(c.next("eth0", [150, 7], 3_500)).toEqual({ deltas: [50, 0], elapsedMs: 2_500 });
    expect(c.next("eth0", [151, 9], 4_500)).toEqual({ deltas: [1, 2], elapsedMs: 1_000 });
  });

  it("keeps keys apart", () => {
    const c = new CounterDeltas();
    c.next("a", [1], 0);
    expect(c.next("b", [10], 1)).toBeUndefined();
    expect(c.next("a", [4], 2)?.deltas).toEqual([3]);
  });

  it("treats any field going down as a reset: no delta, and the reading becomes the base", () => {
    const c = new CounterDeltas();
    c.next("cpu1", [100, 50, 10], 0);
    expect(c.next("cpu1", [120, 60, 9], 1_000)).toBeUndefined(); // only the last field went back
    expect(c.next("cpu1", [125, 61, 12], 2_000)).toEqual({ deltas: [5, 1, 3], elapsedMs: 1_000 });
  });

  it("gives undefined for a field either reading lacks, without calling it a reset", () => {
    const c = new CounterDeltas();
    c.next("cpu", [10, undefined, 5], 0);
    expect(c.next("cpu", [20, 3, undefined], 1)?.deltas).toEqual([10, undefined, undefined]);
  });

  it("re-bases when the number of fields changes", () => {
    const c = new CounterDeltas();
    c.next("cpu", [10, 10], 0);
    expect(c.next("cpu", [20, 20, 20], 1)).toBeUndefined();
    expect(c.next("cpu", [21, 21, 21], 2)?.deltas).toEqual([1, 1, 1]);
  });

  it("forgets keys not seen since the previous sweep", () => {
    const c = new CounterDeltas();
    c.next("sda", [1], 0);
    c.next("sdb", [1], 0);
    c.sweep();
    c.next("sda", [2], 1);
    c.sweep(); // sdb was not read this time: gone
    expect(c.size).toBe(1);
    expect(c.next("sdb", [100], 2)).toBeUndefined();
    expect(c.next("sda", [3], 2)?.deltas).toEqual([1]);
  });

  it("never gives a negative delta", () => {
    const reading = fc.array(fc.option(fc.nat(), { nil: undefined }), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 10 }), (readings) => {
        const c = new CounterDeltas();
        for (const [i, r] of readings.entries()) {
          for (const d of c.next("k", r, i)?.deltas ?? [])
            if (d !== undefined) expect(d).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
