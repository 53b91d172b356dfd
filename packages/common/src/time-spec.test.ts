import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTimeSpec } from "./time-spec.js";

/** 2026-01-15T12:00:00Z */
const NOW = 1_768_478_400_000;

describe("parseTimeSpec", () => {
  it.each([
    ["now", NOW],
    [" now ", NOW],
    ["-1h", NOW - 3_600_000],
    ["-90s", NOW - 90_000],
    ["-1h30m", NOW - 5_400_000],
    ["-0s", NOW],
    ["1764040000", 1_764_040_000_000],
    ["1764040000.5", 1_764_040_000_500],
    ["1764040000.123", 1_764_040_000_123],
    ["1764040000.0004", 1_764_040_000_000],
    ["0", 0],
    ["2026-11-25T10:00:00Z", 1_795_600_800_000],
    ["2026-11-25T10:00:00.250Z", 1_795_600_800_250],
    ["2026-11-25T12:00:00+02:00", 1_795_600_800_000],
    ["2026-11-25T05:30:00-04:30", 1_795_600_800_000],
    ["2026-11-25T10:00:00+00:00", 1_795_600_800_000],
    ["2024-02-29T00:00:00Z", 1_709_164_800_000],
  ])("reads %j", (text, ms) => {
    expect(parseTimeSpec(text, NOW)).toBe(ms);
  });

  it.each([
    "",
    "NOW",
    "yesterday",
    "-",
    "-1",
    "-1 hour",
    "--1h",
    "1h",
    "+1h",
    "1e9",
    "0x10",
    "1764040000.",
    "2026-11-25",
    "2026-11-25 10:00:00Z",
    "2026-11-25T10:00:00",
    "2026-11-25T10:00Z",
    "2026-13-01T00:00:00Z",
    "2026-02-30T10:00:00Z",
    "2025-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-11-25T10:00:00+2:00",
    "2026-11-25T24:00:00Z",
    "2026-11-25T12:60:00Z",
    "2026-11-25T12:00:61Z",
    "2026-11-25T12:00:00+24:00",
    "- 1h",
    "-\t1h",
    "9".repeat(400),
  ])("rejects %j with an Error that quotes it", (text) => {
    expect(() => parseTimeSpec(text, NOW)).toThrowError(`"${text}" is not a time`);
  });

  it("explains the relative form when the duration after '-' is bad", () => {
    expect(() => parseTimeSpec("-1 hour", NOW)).toThrowError(
      '"-1 hour" is not a time: a relative time is "-" and a duration, e.g. "-1h"',
    );
  });

  it("never throws anything but an Error, and returns whole milliseconds when it returns", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat({ max: 4_000_000_000_000 }), (text, now) => {
        try {
          expect(Number.isSafeInteger(parseTimeSpec(text, now))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
    );
  });

  it("reads back any instant written by toISOString", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(parseTimeSpec(new Date(ms).toISOString(), NOW)).toBe(ms);
      }),
    );
  });

  it("reads whole Unix seconds as that many thousand milliseconds", () => {
    fc.assert(
      fc.property(fc.nat({ max: 9_000_000_000 }), (s) => {
        expect(parseTimeSpec(String(s), NOW)).toBe(s * 1000);
      }),
    );
  });
});
