import { describe, expect, it } from "vitest";
import { isUsageError, parseCliArgs } from "./cli-args.js";

const OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  json: { type: "boolean" },
} as const;

function usageMessage(argv: string[]): string {
  try {
    parseCliArgs(argv, OPTIONS, 1);
  } catch (err) {
    if (isUsageError(err)) return err.message;
    throw err;
  }
  throw new Error("expected a UsageError");
}

describe("parseCliArgs", () => {
  it("takes a dash-digit value after a string option: --from -7d", () => {
    const { values, positionals } = parseCliArgs(["--from", "-7d", "--to", "-1h", "x"], OPTIONS, 1);
    expect(values).toEqual({ from: "-7d", to: "-1h" });
    expect(positionals).toEqual(["x"]);
  });

  it("keeps --name=value and values without a dash as they are", () => {
    expect(parseCliArgs(["--from=-2h", "--to", "now"], OPTIONS, 0).values).toEqual({
      from: "-2h",
      to: "now",
    });
  });

  it("still refuses a missing value, an unknown option, a dash-letter value and extra arguments", () => {
    expect(usageMessage(["--from"])).toContain("--from");
    expect(usageMessage(["--nope"])).toContain("--nope");
    expect(usageMessage(["--from", "-x"])).toContain("ambiguous");
    expect(usageMessage(["a", "b"])).toBe('unexpected argument "b"');
  });

  it("leaves arguments after -- alone", () => {
    expect(parseCliArgs(["--", "-5"], OPTIONS, 1).positionals).toEqual(["-5"]);
  });

  it("does not join after a boolean option", () => {
    expect(usageMessage(["--json", "-7d"])).toContain("Unknown option '-7'");
  });
});
