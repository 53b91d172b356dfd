import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { CounterDeltas } from "./counter-delta.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The modes that add up to a CPU's time, in the kernel's column order. */
export const CPU_MODES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/**
 * One `cpu`/`cpuN` line of the procfs stat file, in USER_HZ ticks (jiffies) since boot. Fields a
 * kernel does not print (iowait before 2.5.41, steal before 2.6.11, guest_nice before 2.6.33)
 * are undefined, not 0. `guest` and `guestNice` are already inside `user` and `nice`: never add them.
 */
export interface CpuTimes {
  readonly user: number;
  readonly nice: number;
  readonly system: number;
  readonly idle: number;
  readonly iowait: number | undefined;
  readonly irq: number | undefined;
  readonly softirq: number | undefined;
  readonly steal: number | undefined;
  readonly guest: number | undefined;
  readonly guestNice: number | undefined;
}

/** What {@link parseProcStat} understood of the procfs stat file. */
export interface ProcStat {
  /** The `cpu` line: all CPUs together. */
  readonly total: CpuTimes | undefined;
  /** `cpuN` lines by N. Offline CPUs have no line, so the indexes can have holes. */
  readonly cpus: ReadonlyMap<number, CpuTimes>;
  /** `intr`: interrupts serviced since boot (the first number; per-IRQ columns are skipped). */
  readonly interrupts: number | undefined;
  /** `ctxt`: context switches since boot. */
  readonly contextSwitches: number | undefined;
  /** `btime`: boot time, Unix seconds. */
  readonly bootTimeSeconds: number | undefined;
  /** `processes`: forks since boot. */
  readonly processesForked: number | undefined;
  readonly procsRunning: number | undefined;
  readonly procsBlocked: number | undefined;
  /** Lines skipped as malformed. Unknown lines are not issues: new kernels add lines. */
  readonly issues: readonly ParseIssue[];
}

const SINGLE_VALUE_KEYS = {
  intr: "interrupts",
  ctxt: "contextSwitches",
  btime: "bootTimeSeconds",
  processes: "processesForked",
  procs_running: "procsRunning",
  procs_blocked: "procsBlocked",
} as const;
type SingleValueField = (typeof SINGLE_VALUE_KEYS)[keyof typeof SINGLE_VALUE_KEYS];

/** Parses the text of the procfs stat file. Pure, never throws; see {@link ProcStat}. */
export function parseProcStat(text: string): ProcStat {
  const { lines, issues } = completeLines(text);
  let total: CpuTimes | undefined;
  let totalFieldCount = 0;
  const cpus = new Map<number, CpuTimes>();
  const single: Record<SingleValueField, number | undefined> = {
    interrupts: undefined,
    contextSwitches: undefined,
    bootTimeSeconds: undefined,
    processesForked: undefined,
    procsRunning: undefined,
    procsBlocked: undefined,
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const space = line.indexOf(" ");
    const key = space === -1 ? line : line.slice(0, space);
    const cpuIndex = key === "cpu" ? -1 : /^cpu\d+$/.test(key) ? parseCount(key.slice(3)) : undefined;

    if (cpuIndex !== undefined) {
      const fields = line.slice(key.length).trim().split(/\s+/);
      const times = parseCpuFields(fields);
      if (typeof times === "string") {
        issues.push(parseIssue(i + 1, line, times));
      } else if (cpuIndex === -1) {
        if (total) {
          issues.push(parseIssue(i + 1, line, "second cpu line"));
        } else {
          total = times;
          totalFieldCount = fields.length;
        }
      } else if (fields.length < totalFieldCount) {
        // Lines of one kernel all have the same columns; fewer here means the line was cut short.
        issues.push(
          parseIssue(i + 1, line, `${fields.length} fields where the cpu line has ${totalFieldCount}`),
        );
      } else if (cpus.has(cpuIndex)) {
        issues.push(parseIssue(i + 1, line, `second ${key} line`));
      } else {
        cpus.set(cpuIndex, times);
      }
      continue;
    }

    const field = Object.hasOwn(SINGLE_VALUE_KEYS, key)
      ? SINGLE_VALUE_KEYS[key as keyof typeof SINGLE_VALUE_KEYS]
      : undefined;
    if (field === undefined) continue;
    // Only the first number matters; `intr` goes on with thousands of per-IRQ columns we skip.
    const value = parseCount(line.slice(key.length).trimStart().split(" ", 1)[0]);
    if (value === undefined) issues.push(parseIssue(i + 1, line, `${key} is not followed by a number`));
    else single[field] = value;
  }
  return { total, cpus, ...single, issues };
}

/** The numbers of a cpu line, or why they are not usable. */
function parseCpuFields(fields: readonly string[]): CpuTimes | string {
  if (fields.length < 4) return `${fields.length} fields, at least 4 (user nice system idle) expected`;
  const values: number[] = [];
  for (const field of fields.slice(0, 10)) {
    const value = parseCount(field);
    if (value === undefined) return `"${field}" is not a counter`;
    values.push(value);
  }
  const [user = 0, nice = 0, system = 0, idle = 0, iowait, irq, softirq, steal, guest, guestNice] = values;
  return { user, nice, system, idle, iowait, irq, softirq, steal, guest, guestNice };
}

/** The metrics the `cpu` collector emits. */
export const CPU_METRICS: readonly MetricDescriptor[] = [
  {
    name: "cpu_usage_percent",
    type: "gauge",
    unit: "percent",
    help: 'Share of CPU time neither idle nor waiting for I/O since the previous reading, per CPU and over all CPUs (cpu="total").',
    labels: ["cpu"],
    source: "/proc/stat",
    nodeExporter: 'node_cpu_seconds_total (100 × (1 − rate of mode="idle"+"iowait"))',
  },
  {
    name: "cpu_mode_percent",
    type: "gauge",
    unit: "percent",
    help: "Share of all CPUs' time spent in each mode since the previous reading; guest time is counted in user and nice.",
    labels: ["mode"],
    source: "/proc/stat",
    nodeExporter: "node_cpu_seconds_total (100 × rate, summed over cpu)",
  },
  {
    name: "cpu_count",
    type: "gauge",
    unit: "1",
    help: "Online CPUs: the cpuN lines of the procfs stat file.",
    labels: [],
    source: "/proc/stat",
    nodeExporter: 'count(node_cpu_seconds_total{mode="idle"})',
  },
];

const IDLE = CPU_MODES.indexOf("idle");
const IOWAIT = CPU_MODES.indexOf("iowait");

/**
 * Creates the `cpu` collector: CPU usage per CPU and in total, and the total's split by mode,
 * from two consecutive readings of the procfs stat file. The first reading emits nothing; a CPU
 * whose ticks did not advance, or whose counters went backwards, emits nothing that tick.
 * It takes no options.
 */
export function createCpuCollector(): Collector {
  const deltas = new CounterDeltas();
  const warnings = new WarningLatch();
  let hasBase = false;

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const text = readProcFile(ctx.proc, "stat", "cpu metrics", problems);
    if (text !== undefined) {
      const stat = parseProcStat(text);
      if (stat.issues.length > 0) {
        problems.push(
          parseIssuesProblem(ctx.proc, "stat", stat.issues, "CPUs on those lines and cpu_count are skipped"),
        );
      }
      if (!stat.total && stat.cpus.size === 0 && stat.issues.length === 0) {
        problems.push({
          key: "stat:no-cpu-lines",
          message: `${ctx.proc.pathOf("stat")} has no cpu lines, so cpu metrics are not collected: check the agent's procfs root`,
        });
      }
      const emit = (metric: string, labels: Record<string, string>, value: number) =>
        samples.push({ metric, labels, value, ts: ctx.now });

      if (stat.total) {
        const delta = deltas.next("total", modeValues(stat.total), ctx.now);
        const usage = delta && usagePercent(delta.deltas);
        if (delta && usage) {
          emit("cpu_usage_percent", { cpu: "total" }, usage.usage);
          CPU_MODES.forEach((mode, i) => {
            const d = delta.deltas[i];
            if (d !== undefined) emit("cpu_mode_percent", { mode }, (100 * d) / usage.ticks);
          });
        }
      }
      for (const [index, times] of [...stat.cpus].sort(([a], [b]) => a - b)) {
        const delta = deltas.next(String(index), modeValues(times), ctx.now);
        const usage = delta && usagePercent(delta.deltas);
        if (usage) emit("cpu_usage_percent", { cpu: String(index) }, usage.usage);
      }
      // A truncated file hides CPUs, so its count would be wrong: better no count than a false one.
      if (hasBase && stat.total && stat.issues.length === 0) emit("cpu_count", {}, stat.cpus.size);
      hasBase = true;
      deltas.sweep();
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "cpu", metrics: CPU_METRICS, collect };
}

function modeValues(times: CpuTimes): (number | undefined)[] {
  return CPU_MODES.map((mode) => times[mode]);
}

/** 100 × (1 − (idle + iowait) / all ticks), or undefined when no tick passed. */
function usagePercent(delta: readonly (number | undefined)[]): { usage: number; ticks: number } | undefined {
  let ticks = 0;
  for (const d of delta) ticks += d ?? 0;
  if (ticks <= 0) return undefined;
  const idle = (delta[IDLE] ?? 0) + (delta[IOWAIT] ?? 0);
  return { usage: 100 * (1 - idle / ticks), ticks };
}
