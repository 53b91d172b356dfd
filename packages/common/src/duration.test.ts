import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["0s", 0],
    ["500ms", 500],
    ["1s", 1_000],
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["7d", 604_800_000],
    ["2w", 1_209_600_000],
    ["1.5s", 1_500],
    ["0.25m", 15_000],
    ["1d2h3m4s5ms", 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5],
    ["  30s  ", 30_000],
    // sub-millisecond fractions round to the nearest millisecond
    ["1.4ms", 1],
    ["1.5ms", 2],
  ])("reads %j as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    "1 sec",
    "",
    "   ",
    "-1s",
    "1h-",
    "1",
    "s",
    "1S",
    "1hh",
    "1.s",
    ".5s",
    "1e3s",
    "1h 30m",
    "10 s",
    "+1s",
  ])("rejects %j with an Error that quotes it", (text) => {
    expect(() => parseDuration(text)).toThrowError(`"${text}" is not a duration`);
  });

  it("rejects a duration too long to count in whole milliseconds", () => {
    const text = `${"9".repeat(30)}w`;
    expect(() => parseDuration(text)).toThrowError(`"${text}" is too long a duration`);
  });

  it("never throws anything but an Error, and returns a whole non-negative number when it returns", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const ms = parseDuration(text);
          expect(Number.isSafeInteger(ms) && ms >= 0).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
    );
  });

  it("never throws anything but an Error on strings made of duration characters", () => {
    const chars = fc.constantFrom(..."0123456789.mshdw -");
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 20 }), (parts) => {
        const text = parts.join("");
        try {
          expect(Number.isSafeInteger(parseDuration(text))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
    );
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [1, "1ms"],
    [999, "999ms"],
    [1_000, "1s"],
    [1_500, "1s500ms"],
    [60_000, "1m"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [5_400_000, "1h30m"],
    [86_400_000, "1d"],
    // weeks are written as days
    [604_800_000, "7d"],
    [90_061_001, "1d1h1m1s1ms"],
    [1_000.4, "1s"],
    [1_000.6, "1s1ms"],
    // rounds to zero: still something parseDuration reads
    [0.4, "0s"],
  ])("writes %d ms as %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("round-trips through parseDuration for every whole number of milliseconds", () => {
    fc.assert(
      fc.property(fc.nat({ max: 100 * 365 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it("round-trips non-whole milliseconds to the nearest millisecond", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e12, noNaN: true }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(Math.round(ms));
      }),
    );
  });

  it("reads back what it writes as a fixed point: format(parse(format(x))) = format(x)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1e12 }), (ms) => {
        const text = formatDuration(ms);
        expect(formatDuration(parseDuration(text))).toBe(text);
      }),
    );
  });
});
