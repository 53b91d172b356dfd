/** One sample line of the Prometheus text exposition format. */
export interface PrometheusSample {
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** The line's timestamp (Unix milliseconds) when it had one. */
  readonly timestampMs: number | undefined;
}

/** A line the parser skipped, 1-based, with why. */
export interface PrometheusTextIssue {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

export interface PrometheusTextParse {
  /** Finite samples in file order. */
  readonly samples: readonly PrometheusSample[];
  /** `# TYPE` declarations by metric family name (counter, gauge, histogram, summary, untyped). */
  readonly types: ReadonlyMap<string, string>;
  /** `# HELP` texts by metric family name, unescaped. */
  readonly help: ReadonlyMap<string, string>;
  readonly issues: readonly PrometheusTextIssue[];
  /** Samples dropped because their value was NaN or ±Inf (Vigil's wire refuses non-finite values). */
  readonly nonFinite: number;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TIMESTAMP_RE = /^-?\d+$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/**
 * Parses Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` lines, other comments,
 * `name{label="value",…} value [timestamp_ms]` sample lines with `\\`, `\"` and `\n` escapes in
 * label values. Histogram and summary series are their `_bucket`/`_sum`/`_count` lines as written.
 * A malformed line is an issue and the other lines still count; NaN and ±Inf values are counted in
 * `nonFinite` and dropped. Pure, never throws.
 */
export function parsePrometheusText(text: string): PrometheusTextParse {
  const samples: PrometheusSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const issues: PrometheusTextIssue[] = [];
  let nonFinite = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === "") continue;
    const issue = (reason: string) =>
      issues.push({
        line: i + 1,
        text: trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed,
        reason,
      });
    if (trimmed.startsWith("#")) {
      const m = /^#\s*(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(trimmed);
      if (!m) continue; // a plain comment
      const [, kind, name = "", rest = ""] = m;
      if (!isMetricName(name)) {
        issue(`"${name}" is not a metric name`);
      } else if (kind === "TYPE") {
        if (!TYPES.has(rest.trim())) issue(`unknown type "${rest.trim()}"`);
        else types.set(name, rest.trim());
      } else {
        help.set(
          name,
          rest.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\")),
        );
      }
      continue;
    }
    const parsed = parseSampleLine(trimmed);
    if (typeof parsed === "string") {
      issue(parsed);
    } else if (!Number.isFinite(parsed.value)) {
      nonFinite++;
    } else {
      samples.push(parsed);
    }
  }
  return { samples, types, help, issues, nonFinite };
}

function isMetricName(name: string): boolean {
  return /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name);
}

/** One sample line, or why it is not one. */
function parseSampleLine(line: string): PrometheusSample | string {
  let pos = 0;
  if (!NAME_START.test(line[0] ?? "")) return "does not start with a metric name";
  while (pos < line.length && NAME_CHAR.test(line[pos] ?? "")) pos++;
  const metric = line.slice(0, pos);
  // A Map, not an object: a label named __proto__ must stay a label.
  const labels = new Map<string, string>();
  while (line[pos] === " " || line[pos] === "\t") pos++;
  if (line[pos] === "{") {
    pos++;
    for (;;) {
      while (line[pos] === " " || line[pos] === "\t") pos++;
      if (line[pos] === "}") {
        pos++;
        break;
      }
      if (!LABEL_START.test(line[pos] ?? "")) return `bad label name at column ${pos + 1}`;
      const start = pos;
      while (pos < line.length && LABEL_CHAR.test(line[pos] ?? "")) pos++;
      const name = line.slice(start, pos);
      while (line[pos] === " " || line[pos] === "\t") pos++;
      if (line[pos] !== "=") return `expected = after label ${name}`;
      pos++;
      while (line[pos] === " " || line[pos] === "\t") pos++;
      if (line[pos] !== '"') return `expected " to open the value of label ${name}`;
      pos++;
      let value = "";
      let closed = false;
      while (pos < line.length) {
        const c = line[pos];
        if (c === "\\") {
          const next = line[pos + 1];
          if (next === "n") value += "\n";
          else if (next === "\\" || next === '"') value += next;
          else return `bad escape in the value of label ${name}`;
          pos += 2;
        } else if (c === '"') {
          pos++;
          closed = true;
          break;
        } else {
          value += c;
          pos++;
        }
      }
      if (!closed) return `unterminated value of label ${name}`;
      if (labels.has(name)) return `label ${name} given twice`;
      labels.set(name, value);
      while (line[pos] === " " || line[pos] === "\t") pos++;
      if (line[pos] === ",") pos++;
      else if (line[pos] !== "}") return `expected , or } after label ${name}`;
    }
  }
  const rest = line
    .slice(pos)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest[0] === "" || rest.length > 2)
    return "expected a value and at most a timestamp after the name";
  const value = parseValue(rest[0] ?? "");
  if (value === undefined) return `"${rest[0]}" is not a number`;
  let timestampMs: number | undefined;
  if (rest[1] !== undefined) {
    if (!TIMESTAMP_RE.test(rest[1]) || !Number.isSafeInteger(Number(rest[1])))
      return `"${rest[1]}" is not a timestamp in ms`;
    timestampMs = Number(rest[1]);
  }
  return { metric, labels: Object.fromEntries(labels), value, timestampMs };
}

/** A sample value: a float, NaN, or ±Inf in any case. */
function parseValue(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === "nan") return Number.NaN;
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  if (!FLOAT_RE.test(text)) return undefined;
  return Number(text);
}

/** Escapes a label value for the text format (the inverse of the parser's unescaping). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
