import { isConfigError } from "@vigil/common";
import { describe, expect, it } from "vitest";
import { runRuleTests } from "./rule-test.js";

const RULES = `
[[alert.rules]]
name = "DiskFull"
kind = "threshold"
metric = "filesystem_used_percent"
op = ">"
threshold = 90
for = "2m"
annotations = { summary = "{{ $labels.mountpoint }} at {{ $value }}%" }
`;

const TESTS = `
evaluation_interval = "1m"

[[tests]]
name = "disk fills"
[[tests.input_series]]
agent = "web-1"
series = 'filesystem_used_percent{mountpoint="/"}'
values = "85+2x10"
[[tests.input_series]]
agent = "web-1"
series = 'filesystem_used_percent{mountpoint="/boot"}'
values = "10x10"

[[tests.alert_rule_test]]
eval_time = "3m"
alertname = "DiskFull"

[[tests.alert_rule_test]]
eval_time = "5m"
alertname = "DiskFull"
[[tests.alert_rule_test.exp_alerts]]
exp_labels = { agent = "web-1", mountpoint = "/" }
exp_annotations = { summary = "/ at 95%" }
`;

describe("runRuleTests", () => {
  it("passes when the firing alerts match at each eval_time", () => {
    // 85+2x10: 91 at 3m (pending), held 2m: firing at 5m with 95.
    const report = runRuleTests({ file: "t.toml", source: TESTS + RULES });
    expect(report.cases.map((c) => [c.name, c.passed, c.failures])).toEqual([["disk fills", true, []]]);
    expect(report.passed).toBe(true);
  });

  it("reads rule_files relative to the test file", () => {
    const report = runRuleTests({
      file: "/etc/vigil/tests/t.toml",
      source: `rule_files = ["../server.toml"]\n${TESTS}`,
      readFile: (path) => {
        expect(path).toBe("/etc/vigil/server.toml");
        return RULES;
      },
    });
    expect(report.passed).toBe(true);
  });

  it("fails with a diff of missing (-) and unexpected (+) alerts", () => {
    const wrong = TESTS.replace('eval_time = "5m"', 'eval_time = "4m"').replace(
      'eval_time = "3m"',
      'eval_time = "9m"',
    );
    const report = runRuleTests({ file: "t.toml", source: wrong + RULES });
    expect(report.passed).toBe(false);
    const [f4, f9] = report.cases[0]?.failures ?? [];
    expect(f4?.evalTimeMs).toBe(240_000);
    expect(f4?.diff).toBe(
      '- {agent="web-1", alertname="DiskFull", mountpoint="/"} annotations {summary="/ at 95%"}',
    );
    expect(f9?.diff).toBe(
      '+ {agent="web-1", alertname="DiskFull", mountpoint="/"} annotations {summary="/ at 103%"}',
    );
  });

  it("treats _ as a missing sample and stale as the end of the series", () => {
    const source = `${RULES}
[[tests]]
[[tests.input_series]]
series = 'filesystem_used_percent{mountpoint="/"}'
values = "95 _ 95 95 stale 95"
[[tests.alert_rule_test]]
eval_time = "3m"
alertname = "DiskFull"
[[tests.alert_rule_test.exp_alerts]]
exp_labels = { agent = "agent-1", mountpoint = "/" }
[[tests.alert_rule_test]]
eval_time = "4m"
alertname = "DiskFull"
`;
    const report = runRuleTests({ file: "t.toml", source });
    expect(report.cases[0]?.failures).toEqual([]);
    expect(report.cases[0]?.events.map((e) => `${e.at / 60_000}m:${e.type}`)).toEqual([
      "2m:firing",
      "4m:resolved",
    ]);
  });

  it("rejects a malformed file with file, line and key", () => {
    const bad = `${RULES}\n[[tests]]\n[[tests.input_series]]\nseries = "m"\nvalues = "1+x3"\n`;
    try {
      runRuleTests({ file: "t.toml", source: bad });
      expect.unreachable();
    } catch (err) {
      expect(isConfigError(err)).toBe(true);
      expect(String(err)).toMatch(
        /t\.toml:\d+: tests\.0\.input_series\.0\.values: "1\+x3" is not a series value/,
      );
    }
    expect(() =>
      runRuleTests({
        file: "t.toml",
        source: `${RULES}\n[[tests]]\n[[tests.alert_rule_test]]\neval_time = "90s"\nalertname = "X"\n`,
      }),
    ).toThrow(/not a multiple of the evaluation interval/);
    expect(() =>
      runRuleTests({ file: "t.toml", source: TESTS + RULES.replace('op = ">"', 'op = "~"') }),
    ).toThrow(/alert\.rules\.0\.op: rule "DiskFull"/);
  });
});
