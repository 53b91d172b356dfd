import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { SeriesSamples } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchError, batchSampleCount, decodeBatch, encodeBatch, isBatchError } from "./batch-codec.js";
import { BatchSchema, SeriesSchema } from "./gen/vigil/v1/ingest_pb.js";

const T0 = 1_764_040_000_000;

describe("encodeBatch / decodeBatch", () => {
  it("round-trips series through the binary wire form with a shared string table", () => {
    const series: SeriesSamples[] = [
      {
        metric: "cpu_usage_percent",
        labels: { cpu: "total" },
        timestamps: [T0, T0 + 1000],
        values: [12.5, 13],
      },
      { metric: "cpu_usage_percent", labels: { cpu: "0" }, timestamps: [T0], values: [99.25] },
      { metric: "memory_total_bytes", labels: {}, timestamps: [T0 + 5], values: [16_777_216_000] },
    ];
    const batch = encodeBatch(7, series);
    expect(batch.seq).toBe(7);
    expect(batch.baseTimestampMs).toBe(BigInt(T0));
    // "cpu_usage_percent", "cpu", "total", "0", "memory_total_bytes": each once.
    expect(batch.strings).toEqual(["cpu_usage_percent", "cpu", "total", "0", "memory_total_bytes"]);
    const wire = toBinary(BatchSchema, batch);
    const decoded = decodeBatch(fromBinary(BatchSchema, wire));
    expect(decoded).toEqual(series);
    expect(batchSampleCount(batch)).toBe(4);
  });

  it("sorts label names so one label set always encodes the same way", () => {
    const a = encodeBatch(1, [{ metric: "m", labels: { b: "2", a: "1" }, timestamps: [T0], values: [1] }]);
    expect(a.strings).toEqual(["m", "a", "1", "b", "2"]);
    expect(a.series[0]?.labels).toEqual([1, 2, 3, 4]);
  });

  it("refuses a batch that spans more than sint32 milliseconds", () => {
    expect(() =>
      encodeBatch(1, [{ metric: "m", labels: {}, timestamps: [0, 2 ** 31], values: [1, 2] }]),
    ).toThrow(/split it/);
  });
});

describe("decodeBatch validation", () => {
  const batchOf = (series: Parameters<typeof create<typeof SeriesSchema>>[1][], strings = ["m", "k", "v"]) =>
    create(BatchSchema, {
      seq: 1,
      baseTimestampMs: BigInt(T0),
      strings,
      series: series.map((s) => create(SeriesSchema, s)),
    });

  const cases: [string, ReturnType<typeof batchOf>, RegExp][] = [
    [
      "metric index out of range",
      batchOf([{ metric: 9, timestampOffsetsMs: [0], values: [1] }]),
      /series 0: metric index 9 is outside the string table \(3 strings\)/,
    ],
    [
      "odd label list",
      batchOf([{ metric: 0, labels: [1], timestampOffsetsMs: [0], values: [1] }]),
      /odd number of indices/,
    ],
    [
      "label value out of range",
      batchOf([{ metric: 0, labels: [1, 5], timestampOffsetsMs: [0], values: [1] }]),
      /label value index 5/,
    ],
    [
      "length mismatch",
      batchOf([{ metric: 0, timestampOffsetsMs: [0, 1], values: [1] }]),
      /2 timestamps but 1 values/,
    ],
    [
      "NaN value",
      batchOf([{ metric: 0, timestampOffsetsMs: [0], values: [Number.NaN] }]),
      /value NaN at position 0 is not finite/,
    ],
    [
      "infinite value",
      batchOf([{ metric: 0, timestampOffsetsMs: [0, 1], values: [1, Number.POSITIVE_INFINITY] }]),
      /position 1 is not finite/,
    ],
    [
      "bad metric name",
      batchOf([{ metric: 0, timestampOffsetsMs: [0], values: [1] }], ["1bad"]),
      /invalid metric name "1bad"/,
    ],
    [
      "bad label name",
      batchOf([{ metric: 0, labels: [1, 2], timestampOffsetsMs: [0], values: [1] }], ["m", "a-b", "v"]),
      /invalid label name "a-b"/,
    ],
    [
      "duplicate label",
      batchOf([{ metric: 0, labels: [1, 2, 1, 2], timestampOffsetsMs: [0], values: [1] }]),
      /label "k" appears twice/,
    ],
  ];
  it.each(cases)("rejects %s with a BatchError naming it", (_name, batch, message) => {
    let caught: unknown;
    try {
      decodeBatch(batch);
    } catch (err) {
      caught = err;
    }
    expect(isBatchError(caught)).toBe(true);
    expect((caught as BatchError).message).toMatch(message);
  });

  it("rejects a negative base timestamp", () => {
    const batch = create(BatchSchema, { seq: 1, baseTimestampMs: -5n, strings: [], series: [] });
    expect(() => decodeBatch(batch)).toThrow(BatchError);
  });

  it("never throws anything but BatchError on arbitrary well-typed batches", () => {
    const series = fc.record({
      metric: fc.nat(6),
      labels: fc.array(fc.nat(6), { maxLength: 6 }),
      timestampOffsetsMs: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 5 }),
      values: fc.array(fc.double(), { maxLength: 5 }),
    });
    fc.assert(
      fc.property(
        fc.array(fc.string(), { maxLength: 5 }),
        fc.array(series, { maxLength: 4 }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        (strings, s, base) => {
          const batch = create(BatchSchema, {
            seq: 1,
            baseTimestampMs: base,
            strings,
            series: s.map((x) => create(SeriesSchema, x)),
          });
          try {
            decodeBatch(batch);
          } catch (err) {
            if (!isBatchError(err)) throw err;
          }
        },
      ),
    );
  });

  it("arbitrary bytes either fail protobuf decoding or decode to something decodeBatch handles", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        let batch: ReturnType<typeof fromBinary<typeof BatchSchema>>;
        try {
          batch = fromBinary(BatchSchema, bytes);
        } catch {
          return; // the grpc layer turns this into an error frame
        }
        try {
          decodeBatch(batch);
        } catch (err) {
          if (!isBatchError(err)) throw err;
        }
      }),
    );
  });
});
