import { describe, expect, it } from "vitest";
import { parseByteSize } from "./byte-size.js";

describe("parseByteSize", () => {
  it.each([
    ["65536", 65_536],
    ["65536B", 65_536],
    ["64KiB", 65_536],
    ["256MiB", 268_435_456],
    ["256 MiB", 268_435_456],
    ["1.5GiB", 1_610_612_736],
    ["2GiB", 2_147_483_648],
    ["1TiB", 1_099_511_627_776],
    ["500KB", 500_000],
    ["100MB", 100_000_000],
    ["2GB", 2_000_000_000],
  ])("reads %j as %d bytes", (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each([
    [
      "256XB",
      '"256XB": unknown unit "XB"; expected a whole number of bytes, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. "256MiB"',
    ],
    [
      "256mib",
      '"256mib": unknown unit "mib" (did you mean "MiB"? units are case-sensitive); expected a whole number of bytes, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. "256MiB"',
    ],
    [
      "MiB",
      '"MiB" is not a size: expected a whole number of bytes, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. "256MiB"',
    ],
    [
      "-1MiB",
      '"-1MiB" is not a size: expected a whole number of bytes, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. "256MiB"',
    ],
    [
      "1.5B",
      '"1.5B" is 1.5 bytes, not a whole number of bytes; expected a whole number of bytes, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. "256MiB"',
    ],
    [
      "",
      '"" is not a size: expected a whole number of bytes, or a number with a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. "256MiB"',
    ],
  ])("refuses %j", (text, message) => {
    expect(() => parseByteSize(text)).toThrow(message);
  });
});
