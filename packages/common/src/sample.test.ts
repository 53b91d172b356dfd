import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { groupBySeries, type Sample } from "./sample.js";

const s = (metric: string, labels: Record<string, string>, ts: number, value: number): Sample => ({
  metric,
  labels,
  ts,
  value,
});

describe("groupBySeries", () => {
  it("returns nothing for no samples", () => {
    expect(groupBySeries([])).toEqual([]);
  });

  it("groups by metric and labels in first-seen order, keeping each series' sample order", () => {
    const out = groupBySeries([
      s("cpu_usage_percent", { cpu: "0" }, 1000, 10),
      s("load1", {}, 1000, 0.5),
      s("cpu_usage_percent", { cpu: "1" }, 1000, 20),
      s("cpu_usage_percent", { cpu: "0" }, 2000, 11),
      s("load1", {}, 2000, 0.75),
      s("cpu_usage_percent", { cpu: "0" }, 1500, 12),
    ]);
    expect(out).toEqual([
      {
        metric: "cpu_usage_percent",
        labels: { cpu: "0" },
        timestamps: [1000, 2000, 1500],
        values: [10, 11, 12],
      },
      { metric: "load1", labels: {}, timestamps: [1000, 2000], values: [0.5, 0.75] },
      { metric: "cpu_usage_percent", labels: { cpu: "1" }, timestamps: [1000], values: [20] },
    ]);
  });

  it("treats label sets with the same entries in another order as one series", () => {
    const out = groupBySeries([s("m", { a: "1", b: "2" }, 1, 1), s("m", { b: "2", a: "1" }, 2, 2)]);
    expect(out).toHaveLength(1);
    expect(out[0]?.timestamps).toEqual([1, 2]);
  });

  it("keeps series apart that differ in one label value, a missing label, or the metric", () => {
    const out = groupBySeries([
      s("m", { a: "1" }, 1, 1),
      s("m", { a: "2" }, 1, 2),
      s("m", {}, 1, 3),
      s("m", { a: "" }, 1, 4),
      s("n", { a: "1" }, 1, 5),
    ]);
    expect(out.map((x) => x.values)).toEqual([[1], [2], [3], [4], [5]]);
  });

  it("does not merge label sets whose names and values run together", () => {
    const out = groupBySeries([s("m", { ab: "c" }, 1, 1), s("m", { a: "bc" }, 1, 2)]);
    expect(out).toHaveLength(2);
  });

  it("loses and invents no sample (property)", () => {
    const sample = fc.record({
      metric: fc.constantFrom("a", "b"),
      labels: fc.dictionary(fc.constantFrom("x", "y"), fc.constantFrom("1", "2"), { maxKeys: 2 }),
      ts: fc.nat(),
      value: fc.double({ noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 40 }), (samples) => {
        const out = groupBySeries(samples);
        expect(out.reduce((n, x) => n + x.timestamps.length, 0)).toBe(samples.length);
        const flattened = out.flatMap((x) =>
          x.timestamps.map((ts, i) =>
            JSON.stringify([x.metric, Object.entries(x.labels).sort(), ts, x.values[i]]),
          ),
        );
        const given = samples.map((x) =>
          JSON.stringify([x.metric, Object.entries(x.labels).sort(), x.ts, x.value]),
        );
        expect(flattened.sort()).toEqual(given.sort());
        const keys = out.map((x) => JSON.stringify([x.metric, Object.entries(x.labels).sort()]));
        expect(new Set(keys).size).toBe(keys.length);
      }),
    );
  });
});
