/** Label names to values. Order carries no meaning; see `canonicalLabels` for the stable form. */
export type Labels = Readonly<Record<string, string>>;

/** One measurement: a metric name, its labels, a value and a Unix timestamp in milliseconds. */
export interface Sample {
  readonly metric: string;
  readonly labels: Labels;
  readonly value: number;
  /** Unix milliseconds. */
  readonly ts: number;
}

/** A series' samples in columnar form, as batches carry and storage writes them. */
export interface SeriesSamples {
  readonly metric: string;
  readonly labels: Labels;
  /** Unix milliseconds, same length as `values`. */
  readonly timestamps: readonly number[];
  readonly values: readonly number[];
}

export type MetricType = "gauge" | "counter";

/** What a collector promises to emit; feeds `docs/metrics.md`. */
export interface MetricDescriptor {
  readonly name: string;
  readonly type: MetricType;
  /** Base unit: "percent", "bytes", "seconds", "bytes/s", "1" for counts. */
  readonly unit: string;
  readonly help: string;
  readonly labels: readonly string[];
  /** Where it is read from, for docs/metrics.md: e.g. "/proc/stat", "statfs(2)", "nvidia-smi". */
  readonly source?: string;
  /** The node_exporter metric it corresponds to, if any (e.g. "node_cpu_seconds_total"), for docs/metrics.md. */
  readonly nodeExporter?: string;
}

/** Prometheus metric name rule; every name we emit must match it. */
export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Prometheus label name rule. */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Groups samples by series (metric + labels), keeping their order, into the columnar form. */
export function groupBySeries(samples: readonly Sample[]): SeriesSamples[] {
  const bySeries = new Map<
    string,
    { metric: string; labels: Labels; timestamps: number[]; values: number[] }
  >();
  for (const s of samples) {
    const key = `${s.metric}\u0000${canonicalLabelsKey(s.labels)}`;
    let entry = bySeries.get(key);
    if (!entry) {
      entry = { metric: s.metric, labels: s.labels, timestamps: [], values: [] };
      bySeries.set(key, entry);
    }
    entry.timestamps.push(s.ts);
    entry.values.push(s.value);
  }
  return [...bySeries.values()];
}

function canonicalLabelsKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  let out = "";
  for (const k of keys) out += `${k}\u0001${labels[k]}\u0002`;
  return out;
}
