import {
  LABEL_NAME_RE,
  METRIC_NAME_RE,
  type MetricDescriptor,
  type Sample,
  zDurationMs,
} from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { parsePrometheusText } from "./prometheus-text.js";
import { describeFailure, runCommand } from "./run-command.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** Bytes of a command's stdout read at most; a command writing more is killed and its output discarded. */
export const EXEC_STDOUT_CAP_BYTES = 4 * 1024 * 1024;

/** One `[[collectors.exec.commands]]` entry, after validation. */
export interface ExecCommand {
  /** Names the command in `exec_success{command}` and in warnings. */
  readonly name: string;
  /** argv: the program, then its arguments. No shell: write `["sh", "-c", "…"]` to want one. */
  readonly command: readonly string[];
  /** Milliseconds before the command is SIGKILLed. */
  readonly timeout: number;
  readonly format: "prometheus" | "json";
}

export interface ExecOptions {
  readonly commands: readonly ExecCommand[];
}

/** `[collectors.exec]` keys besides enabled/interval. */
export const EXEC_OPTIONS = z.strictObject({
  commands: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "1–64 letters, digits, _ . : -"),
        command: z
          .array(z.string())
          .min(1)
          .refine((argv) => argv[0] !== "", "the program (first element) is empty"),
        timeout: zDurationMs({ minMs: 100, maxMs: 600_000 }).default(10_000),
        format: z.enum(["prometheus", "json"]).default("prometheus"),
      }),
    )
    .default([])
    .refine((cmds) => new Set(cmds.map((c) => c.name)).size === cmds.length, "command names must be unique"),
});

/** A sample read from a command's output, before it is stamped. */
export interface ExecSample {
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs: number | undefined;
}

/** What {@link parseExecJson} understood. */
export interface ExecJsonParse {
  readonly samples: readonly ExecSample[];
  /** Why entries were skipped, one reason each. */
  readonly issues: readonly string[];
}

/**
 * Parses a command's JSON output, one of two shapes:
 * - a flat object `{"queue_depth": 12, "jobs_failed": 0}`: one sample per key, no labels;
 * - an array `[{"metric": "queue_depth", "labels": {"queue": "mail"}, "value": 12}, …]`, `labels`
 *   optional (string values), `timestamp` optional (Unix milliseconds).
 * Metric and label names must follow the Prometheus rules; values must be finite numbers. A bad
 * entry is an issue and the others still count. Pure, never throws.
 */
export function parseExecJson(text: string): ExecJsonParse {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error: unknown) {
    return { samples: [], issues: [`not JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const samples: ExecSample[] = [];
  const issues: string[] = [];
  if (Array.isArray(data)) {
    data.forEach((entry: unknown, i) => {
      const sample = arrayEntry(entry);
      if (typeof sample === "string") issues.push(`entry ${i}: ${sample}`);
      else samples.push(sample);
    });
  } else if (typeof data === "object" && data !== null) {
    for (const [metric, value] of Object.entries(data)) {
      if (!METRIC_NAME_RE.test(metric)) issues.push(`"${metric}" is not a metric name`);
      else if (typeof value !== "number" || !Number.isFinite(value))
        issues.push(`${metric}: value is not a finite number`);
      else samples.push({ metric, labels: {}, value, timestampMs: undefined });
    }
  } else {
    issues.push("expected an object of metric: value, or an array of {metric, labels, value}");
  }
  return { samples, issues };
}

function arrayEntry(entry: unknown): ExecSample | string {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return "not an object";
  const e = entry as Record<string, unknown>;
  if (typeof e.metric !== "string" || !METRIC_NAME_RE.test(e.metric))
    return "metric is missing or not a metric name";
  if (typeof e.value !== "number" || !Number.isFinite(e.value))
    return `${e.metric}: value is not a finite number`;
  const labels: [string, string][] = [];
  if (e.labels !== undefined) {
    if (typeof e.labels !== "object" || e.labels === null || Array.isArray(e.labels))
      return `${e.metric}: labels is not an object`;
    for (const [k, v] of Object.entries(e.labels)) {
      if (!LABEL_NAME_RE.test(k)) return `${e.metric}: "${k}" is not a label name`;
      if (typeof v !== "string") return `${e.metric}: label ${k} is not a string`;
      labels.push([k, v]);
    }
  }
  let timestampMs: number | undefined;
  if (e.timestamp !== undefined) {
    if (typeof e.timestamp !== "number" || !Number.isSafeInteger(e.timestamp))
      return `${e.metric}: timestamp is not an integer (ms)`;
    timestampMs = e.timestamp;
  }
  return { metric: e.metric, labels: Object.fromEntries(labels), value: e.value, timestampMs };
}

/**
 * The metrics the `exec` collector always declares. Everything else it emits comes from the
 * commands' output, under the names and labels they print.
 */
export const EXEC_METRICS: readonly MetricDescriptor[] = [
  {
    name: "exec_success",
    type: "gauge",
    unit: "1",
    help: "1 when the command exited 0 within its timeout and its output parsed without a malformed line, else 0.",
    labels: ["command"],
    source: "collectors.exec.commands",
  },
  {
    name: "exec_duration_seconds",
    type: "gauge",
    unit: "seconds",
    help: "How long the command ran this tick (up to its timeout).",
    labels: ["command"],
    source: "collectors.exec.commands",
  },
];

/**
 * Creates the `exec` collector: runs each configured command every tick (in parallel, no shell, stdin
 * closed), parses its stdout as Prometheus text or JSON, and passes the samples through, stamped
 * with their own timestamp if given, else the tick's. A command that fails, times out (SIGKILL) or
 * writes more than 4 MiB contributes only `exec_success 0` and its duration, and one warning.
 */
export function createExecCollector(options: Partial<ExecOptions> = {}): Collector {
  const commands = options.commands ?? [];
  const warnings = new WarningLatch();

  async function runOne(
    cmd: ExecCommand,
    ctx: CollectContext,
    problems: CollectProblem[],
  ): Promise<Sample[]> {
    const result = await runCommand(cmd.command, {
      timeoutMs: cmd.timeout,
      stdoutCapBytes: EXEC_STDOUT_CAP_BYTES,
    });
    const stamp = (s: ExecSample): Sample => ({
      metric: s.metric,
      labels: s.labels,
      value: s.value,
      ts: s.timestampMs ?? ctx.now,
    });
    let ok = result.exitCode === 0 && !result.timedOut && !result.truncated;
    const out: Sample[] = [];
    if (!ok) {
      problems.push({
        key: `run:${cmd.name}:${result.spawnError ?? (result.timedOut ? "timeout" : (result.signal ?? result.exitCode))}`,
        message: `command "${cmd.name}": ${describeFailure(cmd.command[0] ?? "", result, cmd.timeout)}; its output is discarded`,
      });
    } else if (cmd.format === "json") {
      const parsed = parseExecJson(result.stdout);
      if (parsed.issues.length > 0) {
        ok = false;
        problems.push({
          key: `parse:${cmd.name}`,
          message: `command "${cmd.name}": skipped ${parsed.issues.length} JSON entr${parsed.issues.length === 1 ? "y" : "ies"} (${parsed.issues[0]}); the rest is used`,
          details: { issues: parsed.issues.slice(0, 20) },
        });
      }
      out.push(...parsed.samples.map(stamp));
    } else {
      const parsed = parsePrometheusText(result.stdout);
      const first = parsed.issues[0];
      if (first) {
        ok = false;
        problems.push({
          key: `parse:${cmd.name}:${first.line}`,
          message: `command "${cmd.name}" output line ${first.line}: ${first.reason} ("${first.text}")${parsed.issues.length > 1 ? ` and ${parsed.issues.length - 1} more` : ""}; the other lines are used`,
          details: { issues: parsed.issues.slice(0, 20) },
        });
      }
      if (parsed.nonFinite > 0) {
        problems.push({
          key: `nonfinite:${cmd.name}`,
          message: `command "${cmd.name}": dropped ${parsed.nonFinite} NaN/Inf value(s): Vigil stores only finite numbers`,
        });
      }
      out.push(...parsed.samples.map(stamp));
    }
    out.push({ metric: "exec_success", labels: { command: cmd.name }, value: ok ? 1 : 0, ts: ctx.now });
    out.push({
      metric: "exec_duration_seconds",
      labels: { command: cmd.name },
      value: result.durationMs / 1000,
      ts: ctx.now,
    });
    return out;
  }

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const perCommand = await Promise.all(commands.map((cmd) => runOne(cmd, ctx, problems)));
    // They finish in any order; the latch compares keys, so put them in a stable one.
    problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    warnings.settle(ctx.logger, problems);
    return perCommand.flat();
  }

  return { name: "exec", metrics: EXEC_METRICS, collect };
}
