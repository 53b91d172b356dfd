import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decimalDigits,
  decodeChunk,
  encodeChunk,
  encodeChunkXor,
  MAX_CODEC_TIMESTAMP,
} from "./chunk-codec.js";
import { MAX_TIMESTAMP_MS } from "./data-dir-layout.js";

const T0 = Date.UTC(2025, 10, 25);

/** Bit patterns, so NaN payloads and -0 compare exactly. */
function bits(values: ArrayLike<number>): string[] {
  const f = new Float64Array(1);
  const u = new BigUint64Array(f.buffer);
  return Array.from(values, (v) => {
    f[0] = v;
    return (u[0] as bigint).toString(16);
  });
}

function roundTrip(ts: number[], values: number[]): void {
  for (const data of [encodeChunk(ts, values), encodeChunkXor(ts, values)]) {
    const got = decodeChunk(data);
    expect(Array.from(got.timestamps)).toEqual(ts);
    expect(bits(got.values)).toEqual(bits(values));
  }
}

/** Strictly ascending integer timestamps in [0, max]. */
const timestampsArb = (max: number, maxLength = 300) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max }), { minLength: 1, maxLength })
    .map((a) => a.sort((x, y) => x - y));

/** Any double, NaN payloads included: built from raw 64-bit patterns. */
const anyDoubleArb = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((b) => {
  const u = new BigUint64Array([b]);
  return new Float64Array(u.buffer)[0] as number;
});

const specialArb = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  1.7976931348623157e308,
  2 ** 53,
  0.1,
  99.99,
);

describe("chunk codec", () => {
  it("round-trips the special doubles bit-exact", () => {
    const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 5e-324, -5e-324];
    const nanPayload = new Float64Array(new BigUint64Array([0x7ff8_0000_dead_beefn]).buffer)[0] as number;
    values.push(nanPayload, 2.2250738585072014e-308, -1.7976931348623157e308);
    roundTrip(
      values.map((_, i) => T0 + i * 1000),
      values,
    );
  });

  it("round-trips the extreme timestamps", () => {
    roundTrip([0], [1]);
    roundTrip([0, 1, MAX_TIMESTAMP_MS, MAX_CODEC_TIMESTAMP], [1, 2, 3, 4]);
    roundTrip([MAX_CODEC_TIMESTAMP - 1, MAX_CODEC_TIMESTAMP], [1.5, -1.5]);
  });

  it("property: any ascending timestamps and any doubles round-trip bit-exact", () => {
    fc.assert(
      fc.property(
        timestampsArb(MAX_CODEC_TIMESTAMP).chain((ts) =>
          fc.tuple(
            fc.constant(ts),
            fc.array(fc.oneof(anyDoubleArb, specialArb, fc.double()), {
              minLength: ts.length,
              maxLength: ts.length,
            }),
          ),
        ),
        ([ts, values]) => roundTrip(ts, values),
      ),
      { numRuns: 300 },
    );
  });

  it("property: decimal-looking values and near-regular timestamps round-trip exactly", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_TIMESTAMP_MS - 1_000_000_000 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: -1e9, max: 1e9 })), {
          minLength: 1,
          maxLength: 400,
        }),
        fc.integer({ min: 0, max: 6 }),
        (start, steps, digits) => {
          const ts: number[] = [];
          const values: number[] = [];
          let t = start;
          for (const [dt, n] of steps) {
            ts.push(t);
            values.push(n / 10 ** digits);
            t += dt;
          }
          roundTrip(ts, values);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("picks decimal mode for decimals and XOR mode otherwise", () => {
    expect(decimalDigits([1.25, 3, 99.99], 3)).toBe(2);
    expect(decimalDigits([1, 2, 3], 3)).toBe(0);
    expect(decimalDigits([0.1 + 0.2], 1)).toBe(-1);
    expect(decimalDigits([1, -0], 2)).toBe(-1);
    expect(decimalDigits([1, Number.NaN], 2)).toBe(-1);
    expect(decimalDigits([2 ** 52], 1)).toBe(-1);
  });

  it("stores a regular 2-decimal gauge in under 2 bytes per sample", () => {
    const ts: number[] = [];
    const values: number[] = [];
    let v = 5000;
    let seed = 7;
    for (let i = 0; i < 240; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      v += (seed % 201) - 100;
      ts.push(T0 + i * 10_000);
      values.push(v / 100);
    }
    const data = encodeChunk(ts, values);
    expect(data.length / 240).toBeLessThan(2);
    expect(Array.from(decodeChunk(data).values)).toEqual(values);
  });

  it("refuses unordered, duplicate, fractional or out-of-range timestamps and empty chunks", () => {
    expect(() => encodeChunk([2, 1], [0, 0])).toThrow(RangeError);
    expect(() => encodeChunk([1, 1], [0, 0])).toThrow(RangeError);
    expect(() => encodeChunk([1.5], [0])).toThrow(RangeError);
    expect(() => encodeChunk([-1], [0])).toThrow(RangeError);
    expect(() => encodeChunk([MAX_CODEC_TIMESTAMP + 1], [0])).toThrow(RangeError);
    expect(() => encodeChunk([], [])).toThrow(RangeError);
  });

  it("throws on truncated or foreign data instead of returning garbage", () => {
    const data = encodeChunk([T0, T0 + 1000, T0 + 2000], [0.1 + 0.2, 1, 2]);
    expect(() => decodeChunk(data.slice(0, data.length - 3))).toThrow(RangeError);
    expect(() => decodeChunk(new Uint8Array([9, 0, 0, 0, 0, 1, 0]))).toThrow(/unknown chunk format/);
  });
});
