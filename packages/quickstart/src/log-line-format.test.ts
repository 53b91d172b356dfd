import { describe, expect, it } from "vitest";
import { formatLogLine } from "./log-line-format.js";

describe("formatLogLine", () => {
  it("shortens a pino line to level, message and its own fields", () => {
    const line = JSON.stringify({
      level: 40,
      time: 1,
      pid: 2,
      name: "vigil-agent",
      msg: "stream lost",
      retryInMs: 350,
      reason: "x y",
    });
    expect(formatLogLine(line)).toBe("WARN  stream lost retryInMs=350 reason=x y");
  });
  it("passes other lines through unchanged", () => {
    expect(formatLogLine("    vgt_abc")).toBe("    vgt_abc");
    expect(formatLogLine("{not json")).toBe("{not json");
    expect(formatLogLine('{"a":1}')).toBe('{"a":1}');
  });
});
