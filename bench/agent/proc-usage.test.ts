import { describe, expect, it } from "vitest";
import { cpuPercent, parseStatCpuTicks, parseStatusRssBytes } from "./proc-usage.js";

describe("bench/agent proc-usage", () => {
  it("reads utime + stime after the command name, even one with spaces and parentheses", () => {
    // Fields 14 and 15 (utime 1234, stime 56) of a real-shaped line.
    const line =
      "4242 (node (x) y) S 1 4242 4242 0 -1 4194560 12000 0 3 0 1234 56 0 0 20 0 11 0 98765 1100000000 20000 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0";
    expect(parseStatCpuTicks(line)).toBe(1290);
  });

  it("reads VmRSS in bytes", () => {
    expect(
      parseStatusRssBytes("Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   81920 kB\nRssAnon:\t 1 kB\n"),
    ).toBe(81920 * 1024);
    expect(() => parseStatusRssBytes("Name:\tkworker\n")).toThrow(/no VmRSS/);
  });

  it("turns a tick difference into percent of one core", () => {
    // 150 ticks (1.5 s of CPU at 100 ticks/s) over 60 s is 2.5 %.
    expect(cpuPercent({ cpuTicks: 1000, rssBytes: 0 }, { cpuTicks: 1150, rssBytes: 0 }, 60)).toBeCloseTo(
      2.5,
      10,
    );
  });
});
