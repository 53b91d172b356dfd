import type { Labels, SeriesSamples } from "@vigil/common";
import { prng } from "../harness/prng.js";

/** A batch shape: how many series, and how many ticks of each, go into one batch. */
export interface Shape {
  /** Names the shape in every figure: `agent_tick`, `bulk`. */
  readonly name: string;
  readonly seriesPerBatch: number;
  readonly ticksPerBatch: number;
  /**
   * Ticks written before timing starts, in batches of `PREFILL_TICKS_PER_BATCH`. Besides warming the JIT
   * and creating the series ids, this grows the file to its steady state: while a file is small, the
   * series of a tick share B-tree pages and a tick is cheap; once each series has its own pages, every
   * tick dirties one page per series and the rate settles (see docs/benchmarks.md).
   */
  readonly prefillTicks: number;
  /** Batches timed. */
  readonly timedBatches: number;
  /** Milliseconds between ticks: the agent's collection interval. */
  readonly tickIntervalMs: number;
}

/** Prefill batches are bulk-shaped so the file grows quickly. */
export const PREFILL_TICKS_PER_BATCH = 20;

/** One batch, columnar, as an agent hands it to `encodeBatch` and storage writes it. */
export type BatchSeries = readonly SeriesSamples[];

/** The workload of one shape: the same series and values for the server and for the floor. */
export interface Workload {
  readonly shape: Shape;
  readonly series: readonly SeriesDefinition[];
  /** The prefill, earlier in time than the timed batches. */
  readonly prefill: readonly BatchSeries[];
  readonly timed: readonly BatchSeries[];
}

type ValueKind = "percent" | "bytes_per_second" | "bytes" | "celsius";

export interface SeriesDefinition {
  readonly metric: string;
  readonly labels: Labels;
  readonly kind: ValueKind;
}

const CPU_MODES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] as const;
const PROCESS_NAMES = [
  "postgres",
  "nginx",
  "node",
  "java",
  "redis-server",
  "dockerd",
  "sshd",
  "cron",
] as const;

/** Metric families of the Contract's core names; series `i` is instance `i / 8` of family `i % 8`. */
const FAMILIES: readonly ((k: number) => SeriesDefinition)[] = [
  (k) => ({ metric: "cpu_usage_percent", labels: { cpu: String(k) }, kind: "percent" }),
  (k) => ({
    metric: "cpu_mode_percent",
    labels: { cpu: String(k >> 3), mode: CPU_MODES[k % 8] as string },
    kind: "percent",
  }),
  (k) => ({
    metric: "process_cpu_percent",
    labels: { pid: String(1000 + k), name: PROCESS_NAMES[k % 8] as string },
    kind: "percent",
  }),
  (k) => ({
    metric: "process_memory_bytes",
    labels: { pid: String(1000 + k), name: PROCESS_NAMES[k % 8] as string },
    kind: "bytes",
  }),
  (k) => ({
    metric: "network_receive_bytes_per_second",
    labels: { interface: `veth${k.toString(16)}` },
    kind: "bytes_per_second",
  }),
  (k) => ({
    metric: "disk_write_bytes_per_second",
    labels: { device: `nvme${k}n1` },
    kind: "bytes_per_second",
  }),
  (k) => ({
    metric: "filesystem_used_percent",
    labels: { mountpoint: `/srv/vol${k}`, device: `/dev/mapper/vg0-vol${k}`, fstype: "ext4" },
    kind: "percent",
  }),
  (k) => ({
    metric: "hwmon_temperature_celsius",
    labels: { chip: `platform_coretemp_${k >> 4}`, sensor: `temp${k % 16}` },
    kind: "celsius",
  }),
];

/** `count` distinct series in the Contract's naming, deterministic. */
export function seriesDefinitions(count: number): SeriesDefinition[] {
  return Array.from({ length: count }, (_, i) =>
    (FAMILIES[i % FAMILIES.length] as (k: number) => SeriesDefinition)(Math.floor(i / FAMILIES.length)),
  );
}

/**
 * A gauge-like random walk per series: percentages and rates are full doubles (an agent computes them
 * from counter deltas), byte gauges are integers, temperatures have one decimal (hwmon's resolution).
 */
function valueWalker(kind: ValueKind, random: () => number): () => number {
  switch (kind) {
    case "percent": {
      let v = random() * 100;
      return () => {
        v = Math.min(100, Math.max(0, v + (random() - 0.5) * 8));
        return v;
      };
    }
    case "bytes_per_second": {
      let v = random() * 5e6;
      return () => {
        v = Math.max(0, v * (0.8 + random() * 0.4) + (random() - 0.5) * 1e4);
        return v;
      };
    }
    case "bytes": {
      let v = Math.round(5e7 + random() * 2e9);
      return () => {
        v = Math.max(0, v + Math.round((random() - 0.5) * 4e6));
        return v;
      };
    }
    case "celsius": {
      let v = 35 + random() * 30;
      return () => {
        v = Math.min(100, Math.max(20, v + (random() - 0.5) * 2));
        return Math.round(v * 10) / 10;
      };
    }
  }
}

/**
 * Builds the batches of a shape: ticks `tickIntervalMs` apart from `startMs`, every series at every
 * tick; first `prefillTicks` ticks in batches of `PREFILL_TICKS_PER_BATCH`, then `timedBatches` batches
 * of `ticksPerBatch` ticks.
 */
export function buildWorkload(shape: Shape, startMs: number, seed: number): Workload {
  const series = seriesDefinitions(shape.seriesPerBatch);
  const random = prng(seed);
  const walkers = series.map((s) => valueWalker(s.kind, random));
  let nextTick = 0;
  const batchOf = (ticks: number): BatchSeries => {
    const timestamps = Array.from(
      { length: ticks },
      (_, t) => startMs + (nextTick + t) * shape.tickIntervalMs,
    );
    nextTick += ticks;
    return series.map((s, i) => {
      const walk = walkers[i] as () => number;
      return { metric: s.metric, labels: s.labels, timestamps, values: timestamps.map(() => walk()) };
    });
  };
  const prefill: BatchSeries[] = [];
  for (let left = shape.prefillTicks; left > 0; left -= PREFILL_TICKS_PER_BATCH)
    prefill.push(batchOf(Math.min(left, PREFILL_TICKS_PER_BATCH)));
  const timed = Array.from({ length: shape.timedBatches }, () => batchOf(shape.ticksPerBatch));
  return { shape, series, prefill, timed };
}

/** Samples in a list of batches. */
export function sampleCount(batches: readonly BatchSeries[]): number {
  let n = 0;
  for (const batch of batches) for (const s of batch) n += s.values.length;
  return n;
}
