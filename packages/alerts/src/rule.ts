import { ConfigError, findTomlKeyLine, zDurationMs } from "@vigil/common";
import { z } from "zod";
import { type AgentMatcher, compileAgentGlob } from "./agent-glob.js";
import { type CompiledMatcher, parseMatcher } from "./selector.js";
import { compileTemplate, type Template } from "./template.js";

export const RULE_KINDS = ["threshold", "rate_of_change", "trend", "offline", "absent"] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const SEVERITIES = ["info", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const COMPARISON_OPS = [">", ">=", "<", "<=", "==", "!="] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** Alertmanager's default `repeat_interval`. */
export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000;
/** The longest `window` a rule may keep (windows hold every sample in them). */
export const MAX_WINDOW_MS = 7 * 86_400_000;

/** Fields every kind has, compiled. */
interface RuleCommon {
  readonly name: string;
  readonly severity: Severity;
  /** The `agents` glob as written. */
  readonly agents: string;
  readonly matchAgent: AgentMatcher;
  readonly matchers: readonly CompiledMatcher[];
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly repeatIntervalMs: number;
  readonly labels: readonly (readonly [string, Template])[];
  readonly annotations: readonly (readonly [string, Template])[];
  /**
   * The rule's definition in a canonical text form: two rules with equal `definition` behave the same,
   * so a reload keeps their state untouched.
   */
  readonly definition: string;
  /**
   * The rule as written (the TOML table or the API body, JSON-safe), which the API shows and stores:
   * durations stay "5m", not milliseconds.
   */
  readonly spec: Readonly<Record<string, unknown>>;
}

/** `value op threshold` on each sample, held `for` a duration. */
export interface ThresholdRule extends RuleCommon {
  readonly kind: "threshold";
  readonly metric: string;
  readonly op: ComparisonOp;
  readonly threshold: number;
}

/** The value moved by at least `threshold` (percent or absolute) within `window`. */
export interface RateOfChangeRule extends RuleCommon {
  readonly kind: "rate_of_change";
  readonly metric: string;
  readonly windowMs: number;
  readonly change: "percent" | "absolute";
  readonly direction: "up" | "down" | "any";
  readonly threshold: number;
}

/** A least-squares line over `window` predicts `value op threshold` within `horizon`. */
export interface TrendRule extends RuleCommon {
  readonly kind: "trend";
  readonly metric: string;
  readonly windowMs: number;
  readonly horizonMs: number;
  readonly op: ComparisonOp;
  readonly threshold: number;
}

/** The agent has not been seen for `timeout`. */
export interface OfflineRule extends RuleCommon {
  readonly kind: "offline";
  readonly timeoutMs: number;
}

/** A series that was reporting has had no sample for `timeout` while its agent still reports. */
export interface AbsentRule extends RuleCommon {
  readonly kind: "absent";
  readonly metric: string;
  readonly timeoutMs: number;
}

/** A validated, compiled alert rule. */
export type Rule = ThresholdRule | RateOfChangeRule | TrendRule | OfflineRule | AbsentRule;

/** A rule that is rejected: `rule` is its name (or `#N` when it has none), `field` the key at fault. */
export class RuleError extends Error {
  override readonly name = "RuleError";
  readonly code = "invalid_rule";
  readonly rule: string;
  readonly field: string | undefined;
  readonly problem: string;

  constructor(rule: string, field: string | undefined, problem: string) {
    super(field ? `rule ${rule}: ${field}: ${problem}` : `rule ${rule}: ${problem}`);
    this.rule = rule;
    this.field = field;
    this.problem = problem;
  }
}

export function isRuleError(value: unknown): value is RuleError {
  return value instanceof Error && value.name === "RuleError" && "field" in value && "rule" in value;
}

const zTemplates = z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string());
const zPositiveDuration = zDurationMs({ minMs: 1 });

const common = {
  name: z.string(),
  kind: z.enum(RULE_KINDS),
  severity: z.enum(SEVERITIES).default("warning"),
  agents: z.string().default("*"),
  matchers: z.array(z.string()).default([]),
  for: zDurationMs({ minMs: 0 }).optional(),
  keep_firing_for: zDurationMs({ minMs: 0 }).optional(),
  repeat_interval: zDurationMs({ minMs: 1_000 }).optional(),
  labels: zTemplates.default({}),
  annotations: zTemplates.default({}),
};
const zMetric = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, "is not a metric name");
const zWindow = zDurationMs({ minMs: 1_000, maxMs: MAX_WINDOW_MS });
const zNumber = z.number().refine(Number.isFinite, "must be a finite number");

const SCHEMAS = {
  threshold: z.strictObject({ ...common, metric: zMetric, op: z.enum(COMPARISON_OPS), threshold: zNumber }),
  rate_of_change: z.strictObject({
    ...common,
    metric: zMetric,
    window: zWindow,
    change: z.enum(["percent", "absolute"]).default("percent"),
    direction: z.enum(["up", "down", "any"]).default("any"),
    threshold: zNumber.refine((n) => n > 0, "must be above 0 (a change of at least this much fires)"),
  }),
  trend: z.strictObject({
    ...common,
    metric: zMetric,
    window: zWindow,
    horizon: zPositiveDuration,
    op: z.enum([">", ">=", "<", "<="]).default(">="),
    threshold: zNumber,
  }),
  offline: z.strictObject({ ...common, timeout: zPositiveDuration }),
  absent: z.strictObject({ ...common, metric: zMetric, timeout: zPositiveDuration }),
} as const;

/**
 * Validates and compiles one rule definition (a parsed TOML table or an API body).
 * Throws RuleError naming the rule and the field at fault.
 */
export function parseRule(raw: unknown, index = 0): Rule {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RuleError(`#${index + 1}`, undefined, "must be a table");
  }
  const table = raw as Record<string, unknown>;
  const name = table.name;
  if (typeof name !== "string" || name.trim() === "") {
    throw new RuleError(`#${index + 1}`, "name", "is required (a non-empty string)");
  }
  const label = JSON.stringify(name);
  const kind = table.kind;
  if (typeof kind !== "string" || !(RULE_KINDS as readonly string[]).includes(kind)) {
    throw new RuleError(
      label,
      "kind",
      kind === undefined
        ? `is required (one of ${RULE_KINDS.join(", ")})`
        : `unknown kind ${JSON.stringify(kind)} (one of ${RULE_KINDS.join(", ")})`,
    );
  }
  const schema = SCHEMAS[kind as RuleKind];
  const result = schema.safeParse(table, { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = (issue?.path ?? []).filter((p): p is string | number => typeof p !== "symbol");
    if (issue?.code === "unrecognized_keys") {
      throw new RuleError(
        label,
        issue.keys[0],
        `unknown key for kind ${kind} (allowed: ${Object.keys(schema.shape).join(", ")})`,
      );
    }
    let message = issue?.message ?? "is invalid";
    if (issue?.code === "invalid_type") {
      message =
        issue.input === undefined
          ? `is required for kind ${kind}`
          : `expected ${issue.expected}, got ${JSON.stringify(issue.input)}`;
    }
    throw new RuleError(label, fieldName(path), message);
  }
  return compile(name, kind as RuleKind, result.data as Record<string, unknown>, jsonSafe(table));
}

/** A plain-data copy of a rule table: JSON round-trip (TOML dates become strings; rules have none). */
function jsonSafe(table: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(table)) as Record<string, unknown>;
}

function fieldName(path: readonly (string | number)[]): string | undefined {
  if (path.length === 0) return undefined;
  let out = String(path[0]);
  for (const p of path.slice(1)) out += typeof p === "number" ? `[${p}]` : `.${p}`;
  return out;
}

function compile(
  name: string,
  kind: RuleKind,
  d: Record<string, unknown>,
  spec: Record<string, unknown>,
): Rule {
  const label = JSON.stringify(name);
  const at = <T>(field: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new RuleError(label, field, err instanceof Error ? err.message : String(err));
    }
  };
  const matchAgent = at("agents", () => compileAgentGlob(d.agents as string));
  const matchers = (d.matchers as string[]).map((m, i) => at(`matchers[${i}]`, () => parseMatcher(m)));
  const templates = (field: "labels" | "annotations") =>
    Object.entries(d[field] as Record<string, string>).map(
      ([key, text]) => [key, at(`${field}.${key}`, () => compileTemplate(text))] as const,
    );
  const labels = templates("labels");
  for (const [key] of labels) {
    if (key === "alertname" || key === "agent") {
      throw new RuleError(label, `labels.${key}`, `"${key}" is set by the engine and cannot be overridden`);
    }
  }
  const base = {
    name,
    severity: d.severity as Severity,
    agents: d.agents as string,
    matchAgent,
    matchers,
    forMs: (d.for as number | undefined) ?? 0,
    keepFiringForMs: (d.keep_firing_for as number | undefined) ?? 0,
    repeatIntervalMs: (d.repeat_interval as number | undefined) ?? DEFAULT_REPEAT_INTERVAL_MS,
    labels,
    annotations: templates("annotations"),
    definition: canonicalJson({ ...d, name, kind }),
    spec,
  };
  switch (kind) {
    case "threshold":
      return {
        ...base,
        kind,
        metric: d.metric as string,
        op: d.op as ComparisonOp,
        threshold: d.threshold as number,
      };
    case "rate_of_change":
      return {
        ...base,
        kind,
        metric: d.metric as string,
        windowMs: d.window as number,
        change: d.change as "percent" | "absolute",
        direction: d.direction as "up" | "down" | "any",
        threshold: d.threshold as number,
      };
    case "trend":
      return {
        ...base,
        kind,
        metric: d.metric as string,
        windowMs: d.window as number,
        horizonMs: d.horizon as number,
        op: d.op as ComparisonOp,
        threshold: d.threshold as number,
      };
    case "offline":
      return { ...base, kind, timeoutMs: d.timeout as number };
    case "absent":
      return { ...base, kind, metric: d.metric as string, timeoutMs: d.timeout as number };
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Reads `[[alert.rules]]` from a parsed server TOML document. Every rule is validated before any is
 * returned; the first problem throws a ConfigError naming the file, the line, the key
 * (`alert.rules.2.for`) and the rule (`rule "DiskFull": ...`). Duplicate names are rejected.
 */
export function parseRules(tomlData: Record<string, unknown>, file: string, source: string): Rule[] {
  const alert = tomlData.alert;
  if (alert === undefined) return [];
  if (typeof alert !== "object" || alert === null || Array.isArray(alert)) {
    throw new ConfigError({
      file,
      line: findTomlKeyLine(source, ["alert"]),
      key: "alert",
      problem: "must be a table",
    });
  }
  const rules = (alert as Record<string, unknown>).rules;
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) {
    throw new ConfigError({
      file,
      line: findTomlKeyLine(source, ["alert", "rules"]),
      key: "alert.rules",
      problem: "must be an array of tables ([[alert.rules]])",
    });
  }
  const out: Rule[] = [];
  const seen = new Set<string>();
  rules.forEach((raw, i) => {
    let rule: Rule;
    try {
      rule = parseRule(raw, i);
    } catch (err) {
      if (!isRuleError(err)) throw err;
      const path: (string | number)[] = ["alert", "rules", i];
      if (err.field) path.push(err.field.split(/[.[]/)[0] as string);
      throw new ConfigError({
        file,
        line: findTomlKeyLine(source, path),
        key: err.field ? `alert.rules.${i}.${err.field}` : `alert.rules.${i}`,
        problem: `rule ${err.rule}: ${err.problem}`,
      });
    }
    if (seen.has(rule.name)) {
      throw new ConfigError({
        file,
        line: findTomlKeyLine(source, ["alert", "rules", i, "name"]),
        key: `alert.rules.${i}.name`,
        problem: `rule ${JSON.stringify(rule.name)}: the name is used by an earlier rule (names must be unique)`,
      });
    }
    seen.add(rule.name);
    out.push(rule);
  });
  return out;
}
