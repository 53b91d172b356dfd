import { isConfigError, parseTomlText } from "@vigil/common";
import { describe, expect, it } from "vitest";
import { isRuleError, parseRule, parseRules, type RuleError } from "./rule.js";

const base = { name: "R", kind: "threshold", metric: "load1", op: ">", threshold: 4 };

function ruleError(raw: unknown): RuleError {
  try {
    parseRule(raw);
  } catch (err) {
    if (isRuleError(err)) return err;
    throw err;
  }
  throw new Error("the rule was accepted");
}

describe("parseRule", () => {
  it("fills defaults", () => {
    const r = parseRule(base);
    expect(r).toMatchObject({
      name: "R",
      kind: "threshold",
      severity: "warning",
      agents: "*",
      forMs: 0,
      keepFiringForMs: 0,
      repeatIntervalMs: 4 * 3_600_000,
      op: ">",
      threshold: 4,
    });
  });

  it("reads every kind's fields", () => {
    expect(
      parseRule({
        name: "roc",
        kind: "rate_of_change",
        metric: "m",
        window: "5m",
        threshold: 50,
        direction: "up",
      }),
    ).toMatchObject({ windowMs: 300_000, change: "percent", direction: "up" });
    expect(
      parseRule({ name: "t", kind: "trend", metric: "m", window: "1h", horizon: "4h", threshold: 100 }),
    ).toMatchObject({ windowMs: 3_600_000, horizonMs: 14_400_000, op: ">=" });
    expect(parseRule({ name: "o", kind: "offline", timeout: "2m" })).toMatchObject({ timeoutMs: 120_000 });
    expect(parseRule({ name: "a", kind: "absent", metric: "m", timeout: "10m" })).toMatchObject({
      timeoutMs: 600_000,
    });
  });

  it("compiles matchers, anchored like Prometheus", () => {
    const r = parseRule({ ...base, matchers: ['mountpoint=~"/data.*"', 'fstype!="tmpfs"', 'x!~"a|b"'] });
    const [re, neq, nre] = r.matchers;
    expect(re?.re?.test("/data/x")).toBe(true);
    expect(re?.re?.test("/mnt/data")).toBe(false);
    expect(neq?.op).toBe("!=");
    expect(nre?.re?.test("ab")).toBe(false);
  });

  it("compiles the agents glob", () => {
    const r = parseRule({ ...base, agents: "web-*" });
    expect(r.matchAgent("web-1")).toBe(true);
    expect(r.matchAgent("db-1")).toBe(false);
    expect(parseRule({ ...base, agents: "{web,db}-[0-9]" }).matchAgent("db-3")).toBe(true);
  });

  it.each([
    [{ ...base, kind: "median" }, "kind", "unknown kind"],
    [{ ...base, kind: undefined }, "kind", "is required"],
    [{ ...base, name: "" }, "name", "is required"],
    [{ ...base, metric: "1bad" }, "metric", "not a metric name"],
    [{ ...base, metric: undefined }, "metric", "is required for kind threshold"],
    [{ ...base, agents: "web/*" }, "agents", "characters no agent id contains"],
    [{ ...base, agents: "web-[0-9" }, "agents", 'unclosed "["'],
    [{ ...base, agents: "" }, "agents", "is empty"],
    [{ ...base, matchers: ['mountpoint=~"(unclosed"'] }, "matchers[0]", "bad regex"],
    [{ ...base, matchers: ["mountpoint"] }, "matchers[0]", "expected"],
    [{ ...base, severity: "page" }, "severity", ""],
    [{ ...base, for: "-5m" }, "for", "not a duration"],
    [{ ...base, for: "soon" }, "for", "not a duration"],
    [{ ...base, keep_firing_for: "5 minutes" }, "keep_firing_for", "not a duration"],
    [{ ...base, repeat_interval: "10ms" }, "repeat_interval", "shorter than the minimum"],
    [{ ...base, op: "=>" }, "op", ""],
    [{ ...base, threshold: "90" }, "threshold", "expected number"],
    [{ ...base, horizon: "1h" }, "horizon", "unknown key for kind threshold"],
    [{ ...base, labels: { team: "{{ $team }}" } }, "labels.team", 'unknown template variable "$team"'],
    [{ ...base, annotations: { summary: "{{ $value" } }, "annotations.summary", 'unclosed "{{"'],
    [{ ...base, labels: { agent: "x" } }, "labels.agent", "set by the engine"],
    [{ name: "roc", kind: "rate_of_change", metric: "m", threshold: 5 }, "window", "is required"],
    [
      { name: "roc", kind: "rate_of_change", metric: "m", window: "5m", threshold: 0 },
      "threshold",
      "above 0",
    ],
    [
      { name: "roc", kind: "rate_of_change", metric: "m", window: "5m", threshold: 5, direction: "sideways" },
      "direction",
      "",
    ],
    [{ name: "t", kind: "trend", metric: "m", window: "1h", threshold: 1 }, "horizon", "is required"],
    [
      { name: "t", kind: "trend", metric: "m", window: "1h", horizon: "0s", threshold: 1 },
      "horizon",
      "shorter",
    ],
    [
      { name: "t", kind: "trend", metric: "m", window: "30d", horizon: "1h", threshold: 1 },
      "window",
      "longer",
    ],
    [{ name: "o", kind: "offline" }, "timeout", "is required"],
    [{ name: "o", kind: "offline", timeout: "1m", metric: "m" }, "metric", "unknown key"],
  ])("rejects %j naming the field", (raw, field, text) => {
    const err = ruleError(raw);
    expect(err.field).toBe(field);
    expect(err.message).toContain(text);
    expect(err.code).toBe("invalid_rule");
    if (typeof raw.name === "string" && raw.name !== "") expect(err.rule).toBe(JSON.stringify(raw.name));
  });

  it("names a nameless rule by its position", () => {
    expect(ruleError({ kind: "threshold" }).rule).toBe("#1");
  });

  it("gives equal definitions to equal rules and different ones otherwise", () => {
    expect(parseRule(base).definition).toBe(parseRule({ ...base }).definition);
    expect(parseRule(base).definition).not.toBe(parseRule({ ...base, threshold: 5 }).definition);
  });
});

describe("parseRules", () => {
  const toml = `[server]
data_dir = "./data"

[[alert.rules]]
name = "HighLoad"
kind = "threshold"
metric = "load1"
op = ">"
threshold = 4

[[alert.rules]]
name = "DiskFull"
kind = "threshold"
metric = "filesystem_used_percent"
op = ">"
threshold = 90
for = "-5m"
`;

  it("reads [[alert.rules]] and ignores the rest of the file", () => {
    const ok = toml.replace('"-5m"', '"5m"');
    const rules = parseRules(parseTomlText("server.toml", ok), "server.toml", ok);
    expect(rules.map((r) => r.name)).toEqual(["HighLoad", "DiskFull"]);
  });

  it("says file, line, key and rule for a bad field", () => {
    try {
      parseRules(parseTomlText("server.toml", toml), "server.toml", toml);
      expect.unreachable();
    } catch (err) {
      expect(isConfigError(err)).toBe(true);
      if (!isConfigError(err)) return;
      expect(err.file).toBe("server.toml");
      expect(err.line).toBe(17);
      expect(err.key).toBe("alert.rules.1.for");
      expect(err.message).toContain('rule "DiskFull"');
      expect(err.message).toContain("server.toml:17");
    }
  });

  it("rejects duplicate names", () => {
    const dup = toml.replace('"-5m"', '"5m"').replace('name = "DiskFull"', 'name = "HighLoad"');
    expect(() => parseRules(parseTomlText("s.toml", dup), "s.toml", dup)).toThrow(/used by an earlier rule/);
  });

  it("rejects alert.rules that is not an array of tables", () => {
    const bad = `[alert]\nrules = "x"\n`;
    expect(() => parseRules(parseTomlText("s.toml", bad), "s.toml", bad)).toThrow(/s.toml:2: alert.rules/);
  });

  it("returns no rules when there is no [alert]", () => {
    expect(parseRules({}, "s.toml", "")).toEqual([]);
  });
});
