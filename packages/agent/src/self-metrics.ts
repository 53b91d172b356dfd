import { performance } from "node:perf_hooks";
import type { Collector } from "@vigil/collectors";
import type { MetricDescriptor, Sample } from "@vigil/common";
import type { QueueStats } from "./batch-queue.js";

/** The name the agent's own metrics are scheduled under (a plugin may not take it). */
export const SELF_SOURCE_NAME = "agent";
/** How often the agent reports on itself. */
export const SELF_METRICS_INTERVAL_MS = 10_000;

/** The agent's own series, listed in docs/metrics.md's "agent" section. */
export const SELF_METRICS: readonly MetricDescriptor[] = [
  {
    name: "agent_rss_bytes",
    type: "gauge",
    unit: "bytes",
    help: "Resident memory of the agent process.",
    labels: [],
    source: "process.memoryUsage.rss()",
    nodeExporter: "process_resident_memory_bytes",
  },
  {
    name: "agent_cpu_percent",
    type: "gauge",
    unit: "percent",
    help: "CPU time (user + system) the agent used since the previous report, as a percentage of one core.",
    labels: [],
    source: "process.cpuUsage()",
    nodeExporter: "rate(process_cpu_seconds_total) × 100",
  },
  {
    name: "agent_buffer_samples",
    type: "gauge",
    unit: "1",
    help: "Samples held in the agent's buffer: collected and not yet acknowledged by the server.",
    labels: [],
  },
  {
    name: "agent_buffer_fill_percent",
    type: "gauge",
    unit: "percent",
    help: "agent_buffer_samples as a percentage of buffer.max_samples; at 100 the oldest samples are dropped.",
    labels: [],
  },
  {
    name: "agent_samples_dropped_total",
    type: "counter",
    unit: "1",
    help: "Samples dropped since the agent started because the buffer was full (oldest first).",
    labels: [],
  },
  {
    name: "agent_batches_resent_total",
    type: "counter",
    unit: "1",
    help: "Batches sent again since the agent started, after a reconnect or a server-side failure to store them.",
    labels: [],
  },
  {
    name: "agent_reconnects_total",
    type: "counter",
    unit: "1",
    help: "Times the stream to the server was lost and reopened since the agent started.",
    labels: [],
  },
  {
    name: "vigil_collector_success",
    type: "gauge",
    unit: "1",
    help: "1 if the collector's last collect finished in time without throwing, else 0.",
    labels: ["collector"],
    nodeExporter: "node_scrape_collector_success",
  },
];

/** What the agent's own report reads; functions, because the stream client can change on reload. */
export interface SelfStatsSource {
  readonly queue: () => QueueStats;
  readonly bufferMaxSamples: () => number;
  readonly resentBatches: () => number;
  readonly reconnects: () => number;
  /** Each scheduled collector's last outcome (collectors that have not finished a collect yet are absent). */
  readonly collectorSuccess: () => ReadonlyMap<string, boolean>;
}

/** The process figures, injectable for tests. */
export interface ProcessUsage {
  readonly rssBytes: () => number;
  /** User + system CPU time, microseconds. */
  readonly cpuMicros: () => number;
  /** A monotonic clock, milliseconds. */
  readonly monotonicMs: () => number;
}

export const processUsage: ProcessUsage = {
  rssBytes: () => process.memoryUsage.rss(),
  cpuMicros: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  monotonicMs: () => performance.now(),
};

/**
 * The agent's report on itself, as a collector the scheduler runs every 10 s. CPU % is measured
 * from the moment the collector is created, so the first report already has one.
 */
export function createSelfCollector(source: SelfStatsSource, usage: ProcessUsage = processUsage): Collector {
  let previous = { cpu: usage.cpuMicros(), at: usage.monotonicMs() };
  return {
    name: SELF_SOURCE_NAME,
    metrics: SELF_METRICS,
    async collect(ctx) {
      const ts = ctx.now;
      const gauge = (metric: string, value: number, labels: Record<string, string> = {}): Sample => ({
        metric,
        labels,
        value,
        ts,
      });
      const current = { cpu: usage.cpuMicros(), at: usage.monotonicMs() };
      const elapsedMs = current.at - previous.at;
      const out: Sample[] = [gauge("agent_rss_bytes", usage.rssBytes())];
      if (elapsedMs > 0) out.push(gauge("agent_cpu_percent", (current.cpu - previous.cpu) / 10 / elapsedMs));
      previous = current;
      const q = source.queue();
      out.push(
        gauge("agent_buffer_samples", q.held),
        gauge("agent_buffer_fill_percent", (100 * q.held) / source.bufferMaxSamples()),
        gauge("agent_samples_dropped_total", q.dropped),
        gauge("agent_batches_resent_total", source.resentBatches()),
        gauge("agent_reconnects_total", source.reconnects()),
      );
      for (const [collector, ok] of source.collectorSuccess()) {
        if (collector !== SELF_SOURCE_NAME)
          out.push(gauge("vigil_collector_success", ok ? 1 : 0, { collector }));
      }
      return out;
    },
  };
}
