import type { MetricDescriptor } from "@vigil/common";
import type { CollectorRegistration } from "./collector.js";
import { defaultOptions } from "./define-collector.js";

/** The fixed introduction of docs/metrics.md, before the generated per-collector sections. */
export const METRICS_CATALOGUE_HEADER = `# Metrics catalogue

<!-- Generated from the collectors' metric descriptors by renderMetricsCatalogue()
     (packages/collectors/src/metrics-catalogue.ts). Do not edit by hand: run
     UPDATE_DOCS=1 npx vitest run packages/collectors/src/metrics-catalogue.test.ts -->

Names follow Prometheus conventions: snake_case, base units in the name (\`_bytes\`, \`_seconds\`),
\`_percent\` for 0–100 gauges, \`_total\` for counters. The same names are used everywhere: storage,
the API, alert rules, the dashboard. Rates and percentages are computed in the agent from two
consecutive readings, so the first reading after an agent starts emits none; a counter that goes
backwards (a reset) skips one reading. Every sample of one collector tick carries the tick's
timestamp, aligned to the collector's interval.

A test (\`packages/e2e/src/docs.test.ts\`) checks that every metric a built-in collector declares is
listed here.
`;

/**
 * A line in docs/metrics.md after which the text is hand-written and kept as it is by a
 * regeneration (the agent's own metrics, which are not a collector's: packages/agent/src/self-metrics.ts).
 */
export const METRICS_CATALOGUE_KEPT_MARKER =
  "<!-- Hand-written below this line (not generated): kept by renderMetricsCatalogue(). -->";

/** The hand-written tail of a metrics catalogue, from its marker line on ("" when there is none). */
export function keptCatalogueTail(current: string): string {
  const at = current.indexOf(METRICS_CATALOGUE_KEPT_MARKER);
  return at < 0 ? "" : current.slice(at);
}

/** Extra text after a collector's table, for collectors whose metrics are not all declared. */
const NOTES: Readonly<Record<string, string>> = {
  textfile:
    "Besides these, every sample line of every `*.prom` file in `collectors.textfile.directory` is passed through under the metric name and labels written there (Prometheus text format; `_bucket`/`_sum`/`_count` lines of histograms and summaries as they are; NaN and ±Inf values are dropped with a warning), stamped with the line's timestamp if it has one.",
  exec: 'Besides these, each command\'s output is passed through under the metric names and labels it prints: Prometheus text format, or JSON (`{"metric": value, …}`, or `[{"metric": …, "labels": {…}, "value": …, "timestamp": ms}]`).',
};

/**
 * Renders docs/metrics.md: the fixed header, then per collector a section with a table of its
 * declared metrics (metric, type, unit, labels, source, node_exporter equivalent, meaning), then
 * `keptTail` (see `keptCatalogueTail`) unchanged.
 * Collectors are created with their default options only to read their descriptors.
 */
export function renderMetricsCatalogue(
  registrations: readonly CollectorRegistration[],
  keptTail = "",
): string {
  const sections = registrations.map((r) => {
    const metrics = r.create(defaultOptions(r)).metrics;
    const enabled = r.defaultEnabled ? "On by default" : "Off by default (needs configuration)";
    const lines = [
      `## ${r.name}`,
      "",
      `${enabled}, every ${formatInterval(r.defaultIntervalMs)} unless \`collectors.${r.name}.interval\` says otherwise.`,
      "",
      ...table(["metric", "type", "unit", "labels", "source", "node_exporter", "meaning"], metrics.map(row)),
    ];
    const note = NOTES[r.name];
    if (note) lines.push("", note);
    return lines.join("\n");
  });
  const generated = `${METRICS_CATALOGUE_HEADER}\n${sections.join("\n\n")}\n`;
  return keptTail === "" ? generated : `${generated}\n${keptTail}`;
}

function row(m: MetricDescriptor): string[] {
  const labels = m.labels.length > 0 ? m.labels.map((l) => `\`${l}\``).join(", ") : "—";
  const source = m.source ? cell(m.source) : "—";
  const nodeExporter = m.nodeExporter ? `\`${cell(m.nodeExporter)}\`` : "—";
  return [`\`${m.name}\``, m.type, m.unit, labels, source, nodeExporter, cell(m.help)];
}

/** A markdown table with its columns padded to one width, as an editor's formatter leaves it. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const width = (text: string) => [...text].length;
  const widths = header.map((h, i) => Math.max(width(h), 3, ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    `| ${widths.map((w, i) => (cells[i] ?? "") + " ".repeat(w - width(cells[i] ?? ""))).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** Table-cell safe: no pipes or newlines. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function formatInterval(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
