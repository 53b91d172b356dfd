import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** What {@link parseMeminfo} understood of the procfs meminfo file. */
export interface Meminfo {
  /**
   * Values by key exactly as the kernel writes it (`MemTotal`, `Active(anon)`, `HugePages_Total`).
   * `kB` lines are converted to bytes (the kernel's kB is 1024 bytes); lines without a unit
   * (`HugePages_*` page counts) are kept as they are.
   */
  readonly values: ReadonlyMap<string, number>;
  /** Lines skipped as malformed. */
  readonly issues: readonly ParseIssue[];
}

/** Parses the text of the procfs meminfo file. Pure, never throws; see {@link Meminfo}. */
export function parseMeminfo(text: string): Meminfo {
  const { lines, issues } = completeLines(text);
  // A Map, not an object: keys come from the file, and "__proto__" must stay just a key.
  const values = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    const key = colon === -1 ? "" : line.slice(0, colon);
    const [number, unit, ...extra] = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    const count = parseCount(number);
    const value =
      count === undefined ? undefined : unit === "kB" ? count * 1024 : unit === undefined ? count : undefined;
    if (
      key === "" ||
      /\s/.test(key) ||
      extra.length > 0 ||
      value === undefined ||
      !Number.isSafeInteger(value)
    ) {
      issues.push(parseIssue(i + 1, line, 'expected "Key: <number>" or "Key: <number> kB"'));
    } else if (values.has(key)) {
      issues.push(parseIssue(i + 1, line, `second ${key} line`));
    } else {
      values.set(key, value);
    }
  }
  return { values, issues };
}

/** The node_exporter (meminfo collector) series or expression each metric matches. */
const NODE_EXPORTER: Readonly<Record<string, string>> = {
  memory_total_bytes: "node_memory_MemTotal_bytes",
  memory_available_bytes: "node_memory_MemAvailable_bytes",
  memory_used_bytes: "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes",
  memory_free_bytes: "node_memory_MemFree_bytes",
  memory_buffers_bytes: "node_memory_Buffers_bytes",
  memory_cached_bytes: "node_memory_Cached_bytes",
  swap_total_bytes: "node_memory_SwapTotal_bytes",
  swap_used_bytes: "node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes",
};

/** The metrics the `memory` collector emits. None has labels. */
export const MEMORY_METRICS: readonly MetricDescriptor[] = [
  gauge("memory_total_bytes", "bytes", "Usable RAM (MemTotal)."),
  gauge(
    "memory_available_bytes",
    "bytes",
    "Memory available to start new work without swapping, as the kernel estimates it (MemAvailable).",
  ),
  gauge("memory_used_bytes", "bytes", "memory_total_bytes minus memory_available_bytes."),
  gauge("memory_used_percent", "percent", "memory_used_bytes as a percentage of memory_total_bytes."),
  gauge("memory_free_bytes", "bytes", "Memory not used for anything, not even cache (MemFree)."),
  gauge("memory_buffers_bytes", "bytes", "Block-device buffers (Buffers)."),
  gauge("memory_cached_bytes", "bytes", "Page cache, excluding swap cache (Cached)."),
  gauge("swap_total_bytes", "bytes", "Swap space (SwapTotal); 0 when there is none."),
  gauge("swap_used_bytes", "bytes", "Swap in use: SwapTotal minus SwapFree."),
  gauge(
    "swap_used_percent",
    "percent",
    "swap_used_bytes as a percentage of swap_total_bytes; absent without swap.",
  ),
];

function gauge(name: string, unit: string, help: string): MetricDescriptor {
  const nodeExporter = NODE_EXPORTER[name];
  return {
    name,
    type: "gauge",
    unit,
    help,
    labels: [],
    source: "/proc/meminfo",
    ...(nodeExporter ? { nodeExporter } : {}),
  };
}

/**
 * Creates the `memory` collector: RAM and swap from the procfs meminfo file. "Available" is the
 * kernel's MemAvailable, never free + cached (cache is not all reclaimable; MemAvailable knows
 * which part is). It takes no options.
 */
export function createMemoryCollector(): Collector {
  const warnings = new WarningLatch();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const text = readProcFile(ctx.proc, "meminfo", "memory metrics", problems);
    if (text !== undefined) {
      const { values, issues } = parseMeminfo(text);
      if (issues.length > 0) {
        problems.push(
          parseIssuesProblem(ctx.proc, "meminfo", issues, "the values on those lines are skipped"),
        );
      }
      const emit = (metric: string, value: number | undefined) => {
        if (value !== undefined) samples.push({ metric, labels: {}, value, ts: ctx.now });
      };
      const total = values.get("MemTotal");
      const available = availableBytes(values, ctx, problems, issues.length > 0);
      // Clamped: some container meminfo emulations report MemAvailable above MemTotal, and
      // negative memory in use would only trip alerts.
      const used =
        total !== undefined && available !== undefined ? Math.max(0, total - available) : undefined;
      emit("memory_total_bytes", total);
      emit("memory_available_bytes", available);
      emit("memory_used_bytes", used);
      emit("memory_used_percent", used !== undefined && total ? (100 * used) / total : undefined);
      emit("memory_free_bytes", values.get("MemFree"));
      emit("memory_buffers_bytes", values.get("Buffers"));
      emit("memory_cached_bytes", values.get("Cached"));

      const swapTotal = values.get("SwapTotal");
      const swapFree = values.get("SwapFree");
      const swapUsed =
        swapTotal !== undefined && swapFree !== undefined ? Math.max(0, swapTotal - swapFree) : undefined;
      emit("swap_total_bytes", swapTotal);
      emit("swap_used_bytes", swapUsed);
      emit(
        "swap_used_percent",
        swapUsed !== undefined && swapTotal ? (100 * swapUsed) / swapTotal : undefined,
      );
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "memory", metrics: MEMORY_METRICS, collect };
}

/**
 * MemAvailable, or on kernels before 3.14 (which lack it) the old estimate MemFree + Buffers +
 * Cached with a problem saying it overstates. A file with skipped lines (truncated) is already
 * reported and gets no estimate: there the missing line is lost data, not an old kernel.
 */
function availableBytes(
  values: ReadonlyMap<string, number>,
  ctx: CollectContext,
  problems: CollectProblem[],
  hasSkippedLines: boolean,
): number | undefined {
  const available = values.get("MemAvailable");
  if (available !== undefined) return available;
  const free = values.get("MemFree");
  const buffers = values.get("Buffers");
  const cached = values.get("Cached");
  const path = ctx.proc.pathOf("meminfo");
  if (hasSkippedLines) return undefined;
  if (free === undefined || buffers === undefined || cached === undefined) {
    problems.push({
      key: "meminfo:no-available",
      message:
        `${path} has neither MemAvailable nor MemFree, Buffers and Cached, so memory_available_bytes and ` +
        "memory_used_* are not collected: check that the agent's procfs root is a real procfs",
    });
    return undefined;
  }
  problems.push({
    key: "meminfo:no-memavailable",
    message:
      `${path} has no MemAvailable (kernels before 3.14 lack it), so memory_available_bytes and memory_used_* ` +
      "are estimated as MemFree + Buffers + Cached, which overstates what can be reclaimed: " +
      "upgrade the kernel (3.14 or later) for the kernel's own estimate",
  });
  return free + buffers + cached;
}
