import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { CounterDeltas } from "./counter-delta.js";
import { parseProcStat } from "./cpu.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** What {@link parseLoadavg} understood of the procfs loadavg file (`0.63 1.10 1.33 1/84 3570`). */
export interface Loadavg {
  /** Run-queue averages over 1, 5 and 15 minutes (runnable + uninterruptible tasks). */
  readonly load1: number | undefined;
  readonly load5: number | undefined;
  readonly load15: number | undefined;
  /** The 4th field `R/T`: runnable scheduling entities (threads) now, and all of them. */
  readonly runnable: number | undefined;
  readonly entities: number | undefined;
  /** The 5th field: the PID most recently handed out. */
  readonly lastPid: number | undefined;
  readonly issues: readonly ParseIssue[];
}

/** What {@link parseUptime} understood of the procfs uptime file (`3237.97 4010.45`). */
export interface Uptime {
  /** Seconds since boot (includes time suspended), two decimals. */
  readonly uptimeSeconds: number | undefined;
  /** Idle time summed over all CPUs, seconds: can exceed the uptime on SMP machines. */
  readonly idleSeconds: number | undefined;
  readonly issues: readonly ParseIssue[];
}

/** A non-negative decimal like the kernel prints for averages and seconds (`1.10`, `3237.97`), or undefined. */
function parseDecimal(token: string | undefined): number | undefined {
  if (token === undefined || !/^\d+(\.\d+)?$/.test(token)) return undefined;
  const value = Number(token);
  return Number.isFinite(value) ? value : undefined;
}

/** Parses the procfs loadavg file. Pure, never throws: an unusable line gives one issue and undefined fields. */
export function parseLoadavg(text: string): Loadavg {
  const { lines, issues } = completeLines(text);
  const empty = {
    load1: undefined,
    load5: undefined,
    load15: undefined,
    runnable: undefined,
    entities: undefined,
    lastPid: undefined,
  };
  const line = lines[0];
  if (line === undefined) {
    if (issues.length === 0) issues.push(parseIssue(1, "", "empty file"));
    return { ...empty, issues };
  }
  const fields = line.trim().split(/\s+/);
  const [load1, load5, load15] = fields.slice(0, 3).map(parseDecimal);
  if (load1 === undefined || load5 === undefined || load15 === undefined) {
    issues.push(parseIssue(1, line, "the first three fields are not load averages"));
    return { ...empty, issues };
  }
  const [runnable, entities] = (fields[3] ?? "").split("/");
  return {
    load1,
    load5,
    load15,
    runnable: parseCount(runnable),
    entities: parseCount(entities),
    lastPid: parseCount(fields[4]),
    issues,
  };
}

/** Parses the procfs uptime file. Pure, never throws. */
export function parseUptime(text: string): Uptime {
  const { lines, issues } = completeLines(text);
  const line = lines[0];
  if (line === undefined) {
    if (issues.length === 0) issues.push(parseIssue(1, "", "empty file"));
    return { uptimeSeconds: undefined, idleSeconds: undefined, issues };
  }
  const fields = line.trim().split(/\s+/);
  const uptimeSeconds = parseDecimal(fields[0]);
  if (uptimeSeconds === undefined) issues.push(parseIssue(1, line, "the first field is not seconds"));
  return { uptimeSeconds, idleSeconds: parseDecimal(fields[1]), issues };
}

/** The metrics the `load` collector emits. */
export const LOAD_METRICS: readonly MetricDescriptor[] = [
  {
    name: "load1",
    type: "gauge",
    unit: "1",
    help: "Run-queue length (runnable plus uninterruptible tasks) averaged over 1 minute.",
    labels: [],
    source: "/proc/loadavg",
    nodeExporter: "node_load1",
  },
  {
    name: "load5",
    type: "gauge",
    unit: "1",
    help: "Run-queue length (runnable plus uninterruptible tasks) averaged over 5 minutes.",
    labels: [],
    source: "/proc/loadavg",
    nodeExporter: "node_load5",
  },
  {
    name: "load15",
    type: "gauge",
    unit: "1",
    help: "Run-queue length (runnable plus uninterruptible tasks) averaged over 15 minutes.",
    labels: [],
    source: "/proc/loadavg",
    nodeExporter: "node_load15",
  },
  {
    name: "uptime_seconds",
    type: "gauge",
    unit: "seconds",
    help: "Seconds since the machine booted, time suspended included.",
    labels: [],
    source: "/proc/uptime",
    nodeExporter: "node_time_seconds - node_boot_time_seconds",
  },
  {
    name: "processes_running",
    type: "gauge",
    unit: "1",
    help: "Threads runnable (running or waiting for a CPU) at the moment of reading.",
    labels: [],
    source: "/proc/stat (procs_running)",
    nodeExporter: "node_procs_running",
  },
  {
    name: "processes_blocked",
    type: "gauge",
    unit: "1",
    help: "Threads blocked waiting for I/O to complete at the moment of reading.",
    labels: [],
    source: "/proc/stat (procs_blocked)",
    nodeExporter: "node_procs_blocked",
  },
  {
    name: "context_switches_per_second",
    type: "gauge",
    unit: "1/s",
    help: "Context switches per second across all CPUs since the previous reading.",
    labels: [],
    source: "/proc/stat (ctxt)",
    nodeExporter: "rate(node_context_switches_total)",
  },
];

/**
 * Creates the `load` collector: load averages, uptime, runnable/blocked threads and the context
 * switch rate. The three files are read independently, so a missing one costs only its metrics.
 * The rate needs two readings; a counter that went down (impossible short of a reboot under the
 * same agent, e.g. a restored VM snapshot) gives no rate that tick. It takes no options.
 */
export function createLoadCollector(): Collector {
  const deltas = new CounterDeltas();
  const warnings = new WarningLatch();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const emit = (metric: string, value: number | undefined) => {
      if (value !== undefined) samples.push({ metric, labels: {}, value, ts: ctx.now });
    };

    const loadText = readProcFile(ctx.proc, "loadavg", "load averages", problems);
    if (loadText !== undefined) {
      const load = parseLoadavg(loadText);
      if (load.issues.length > 0) {
        problems.push(parseIssuesProblem(ctx.proc, "loadavg", load.issues, "load averages are skipped"));
      }
      emit("load1", load.load1);
      emit("load5", load.load5);
      emit("load15", load.load15);
    }

    const uptimeText = readProcFile(ctx.proc, "uptime", "uptime_seconds values", problems);
    if (uptimeText !== undefined) {
      const uptime = parseUptime(uptimeText);
      if (uptime.issues.length > 0) {
        problems.push(parseIssuesProblem(ctx.proc, "uptime", uptime.issues, "uptime_seconds is skipped"));
      }
      emit("uptime_seconds", uptime.uptimeSeconds);
    }

    const statText = readProcFile(ctx.proc, "stat", "running/blocked threads and context switches", problems);
    if (statText !== undefined) {
      // The cpu collector reports the stat file's malformed lines; here only our three values matter.
      const stat = parseProcStat(statText);
      emit("processes_running", stat.procsRunning);
      emit("processes_blocked", stat.procsBlocked);
      if (stat.contextSwitches !== undefined) {
        const delta = deltas.next("ctxt", [stat.contextSwitches], ctx.now);
        const switches = delta?.deltas[0];
        if (delta && switches !== undefined && delta.elapsedMs > 0) {
          emit("context_switches_per_second", (switches * 1000) / delta.elapsedMs);
        }
      }
      deltas.sweep();
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "load", metrics: LOAD_METRICS, collect };
}
