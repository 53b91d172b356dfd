import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Labels, parseTomlText, validateConfig, zDurationMs } from "@vigil/common";
import { z } from "zod";
import type { AlertEvent } from "./alert-event.js";
import { AlertEngine, DEFAULT_OFFLINE_GRACE_MS } from "./engine.js";
import { type ExpandedValue, expandSeriesValues, STALE } from "./expand-series.js";
import { parseRules, type Rule } from "./rule.js";
import { parseSelector, selectorLabels } from "./selector.js";

/** One `alert_rule_test` that did not see what it expected. */
export interface RuleTestFailure {
  readonly evalTimeMs: number;
  readonly alertname: string;
  /** `- ` lines: expected and missing; `+ ` lines: firing but not expected. */
  readonly diff: string;
}

export interface RuleTestCaseResult {
  readonly name: string;
  readonly passed: boolean;
  readonly failures: readonly RuleTestFailure[];
  /** Every event the engine sent during the case, in order (for `--verbose` style output). */
  readonly events: readonly AlertEvent[];
}

export interface RuleTestReport {
  readonly passed: boolean;
  readonly cases: readonly RuleTestCaseResult[];
}

const zValues = z.string().superRefine((text, ctx) => {
  try {
    expandSeriesValues(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});
const zSelector = z.string().superRefine((text, ctx) => {
  try {
    const sel = parseSelector(text);
    if (sel.metric === undefined) throw new Error(`"${text}" has no metric name`);
    selectorLabels(sel);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

const testFileSchema = z.looseObject({
  rule_files: z.array(z.string()).default([]),
  evaluation_interval: zDurationMs({ minMs: 1 }).default(60_000),
  offline_grace: zDurationMs({ minMs: 0 }).default(DEFAULT_OFFLINE_GRACE_MS),
  tests: z.array(
    z.strictObject({
      name: z.string().optional(),
      interval: zDurationMs({ minMs: 1 }).optional(),
      input_series: z
        .array(
          z.strictObject({
            agent: z.string().default("agent-1"),
            series: zSelector,
            values: zValues,
          }),
        )
        .default([]),
      alert_rule_test: z
        .array(
          z.strictObject({
            eval_time: zDurationMs({ minMs: 0 }),
            alertname: z.string(),
            exp_alerts: z
              .array(
                z.strictObject({
                  exp_labels: z.record(z.string(), z.string()).default({}),
                  exp_annotations: z.record(z.string(), z.string()).optional(),
                }),
              )
              .default([]),
          }),
        )
        .default([]),
    }),
  ),
});

type TestCase = z.output<typeof testFileSchema>["tests"][number];

/**
 * Runs a rule test file in the spirit of `promtool test rules`, TOML instead of YAML:
 *
 * ```toml
 * rule_files = ["server.toml"]      # [[alert.rules]] read from these (relative to the test file)
 * evaluation_interval = "1m"
 * [[alert.rules]]                   # and/or rules written here
 * name = "DiskFull"  kind = "threshold"  metric = "filesystem_used_percent"  op = ">"  threshold = 90
 * [[tests]]
 * interval = "1m"                   # spacing of input samples (default: evaluation_interval)
 * [[tests.input_series]]
 * agent = "web-1"
 * series = 'filesystem_used_percent{mountpoint="/"}'
 * values = "85+1x10"
 * [[tests.alert_rule_test]]
 * eval_time = "10m"
 * alertname = "DiskFull"
 * [[tests.alert_rule_test.exp_alerts]]
 * exp_labels = { agent = "web-1", mountpoint = "/" }
 * ```
 * Time starts at 0 (the engine starts then). Sample `i` of a series is at `i × interval`; at every
 * multiple of `evaluation_interval` the samples since the last one are ingested, then the engine ticks.
 * At `eval_time` the firing alerts of `alertname` must match `exp_alerts`: labels exactly (`alertname`
 * is implied), annotations when `exp_annotations` is given. Throws ConfigError for a malformed file.
 */
export function runRuleTests(opts: {
  readonly file: string;
  readonly source: string;
  /** Reads a `rule_files` entry; defaults to `fs.readFileSync(path, "utf8")`. */
  readonly readFile?: (path: string) => string;
}): RuleTestReport {
  const data = parseTomlText(opts.file, opts.source);
  const spec = validateConfig(opts.file, opts.source, data, testFileSchema);
  const rules: Rule[] = [];
  for (const ruleFile of spec.rule_files) {
    const path = resolve(dirname(opts.file), ruleFile);
    const text = (opts.readFile ?? defaultReadFile)(path);
    rules.push(...parseRules(parseTomlText(path, text), path, text));
  }
  rules.push(...parseRules(data, opts.file, opts.source));
  const cases = spec.tests.map((t, i) =>
    runCase(t, i, rules, spec.evaluation_interval, spec.offline_grace, opts.file),
  );
  return { passed: cases.every((c) => c.passed), cases };
}

function defaultReadFile(path: string): string {
  return readFileSync(path, "utf8");
}

interface InputSeries {
  readonly agent: string;
  readonly metric: string;
  readonly labels: Labels;
  readonly values: readonly ExpandedValue[];
}

function runCase(
  t: TestCase,
  index: number,
  rules: readonly Rule[],
  evalIntervalMs: number,
  graceMs: number,
  file: string,
): RuleTestCaseResult {
  const name = t.name ?? `test ${index + 1}`;
  const intervalMs = t.interval ?? evalIntervalMs;
  const inputs: InputSeries[] = t.input_series.map((s) => {
    const sel = parseSelector(s.series);
    return {
      agent: s.agent,
      metric: sel.metric as string,
      labels: selectorLabels(sel),
      values: expandSeriesValues(s.values),
    };
  });
  const checks = [...t.alert_rule_test].sort((a, b) => a.eval_time - b.eval_time);
  for (const c of checks) {
    if (c.eval_time % evalIntervalMs !== 0) {
      throw new Error(
        `${file}: test ${JSON.stringify(name)}: eval_time ${c.eval_time} ms is not a multiple of the evaluation interval (${evalIntervalMs} ms)`,
      );
    }
  }
  const events: AlertEvent[] = [];
  const engine = new AlertEngine({ sink: { emit: (e) => events.push(e) }, now: 0, offlineGraceMs: graceMs });
  engine.setRules(rules, 0);
  const endMs = checks.length > 0 ? (checks[checks.length - 1]?.eval_time ?? 0) : 0;
  const failures: RuleTestFailure[] = [];
  let next = 0;
  let prevT = Number.NEGATIVE_INFINITY;
  for (let T = 0; T <= endMs; T += evalIntervalMs) {
    feed(engine, inputs, intervalMs, prevT, T);
    engine.tick(T);
    prevT = T;
    while (next < checks.length && checks[next]?.eval_time === T) {
      const check = checks[next] as (typeof checks)[number];
      const failure = compareAlerts(engine, check.alertname, check.exp_alerts, T);
      if (failure) failures.push(failure);
      next++;
    }
  }
  return { name, passed: failures.length === 0, failures, events };
}

/** Ingests every sample with a timestamp in (fromT, toT], one batch per agent. */
function feed(
  engine: AlertEngine,
  inputs: readonly InputSeries[],
  intervalMs: number,
  fromT: number,
  toT: number,
) {
  const byAgent = new Map<
    string,
    { metric: string; labels: Labels; timestamps: number[]; values: number[] }[]
  >();
  const stale: InputSeries[] = [];
  for (const s of inputs) {
    const first = Math.max(0, Math.floor(fromT / intervalMs) + 1);
    const last = Math.min(s.values.length - 1, Math.floor(toT / intervalMs));
    const timestamps: number[] = [];
    const values: number[] = [];
    for (let i = first; i <= last; i++) {
      const v = s.values[i];
      if (v === STALE) {
        stale.push(s);
        continue;
      }
      if (v === undefined) continue;
      timestamps.push(i * intervalMs);
      values.push(v);
    }
    if (timestamps.length === 0) continue;
    const list = byAgent.get(s.agent) ?? [];
    list.push({ metric: s.metric, labels: s.labels, timestamps, values });
    byAgent.set(s.agent, list);
  }
  for (const [agent, series] of byAgent) engine.ingest(agent, series, toT);
  for (const s of stale) engine.staleSeries(s.agent, s.metric, s.labels, toT);
}

function compareAlerts(
  engine: AlertEngine,
  alertname: string,
  expected: readonly {
    exp_labels: Record<string, string>;
    exp_annotations?: Record<string, string> | undefined;
  }[],
  T: number,
): RuleTestFailure | undefined {
  const got = engine.activeAlerts().filter((a) => a.rule === alertname && a.state === "firing");
  const gotLines = got.map((a) => ({ labels: formatLabels(a.labels), annotations: a.annotations }));
  const unmatched = [...gotLines];
  const missing: string[] = [];
  for (const e of expected) {
    const labels = formatLabels({ ...e.exp_labels, alertname });
    const i = unmatched.findIndex(
      (g) =>
        g.labels === labels &&
        (e.exp_annotations === undefined || formatLabels(g.annotations) === formatLabels(e.exp_annotations)),
    );
    if (i >= 0) unmatched.splice(i, 1);
    else missing.push(describe(labels, e.exp_annotations));
  }
  if (missing.length === 0 && unmatched.length === 0) return undefined;
  const lines = [
    ...missing.sort().map((l) => `- ${l}`),
    ...unmatched.map((g) => `+ ${describe(g.labels, g.annotations)}`).sort(),
  ];
  return { evalTimeMs: T, alertname, diff: lines.join("\n") };
}

function describe(labels: string, annotations: Labels | undefined): string {
  return annotations === undefined || Object.keys(annotations).length === 0
    ? labels
    : `${labels} annotations ${formatLabels(annotations)}`;
}

/** `{a="1", b="2"}`, sorted by name. */
export function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return `{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(", ")}}`;
}
