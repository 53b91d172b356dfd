import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseIssue } from "./proc-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The procfs file, relative to the procfs root. */
const FILE_NR = "sys/fs/file-nr";

/** What {@link parseFileNr} understood of `sys/fs/file-nr` (`414\t0\t2466160`). */
export interface FileNr {
  /** File handles allocated (in use: since Linux 2.6 freed handles are released, so `unused` stays 0). */
  readonly allocated: number | undefined;
  /** Allocated but unused handles; 0 on every kernel since 2.6. */
  readonly unused: number | undefined;
  /** `fs.file-max`: the system-wide limit. Can be 2^63−1 (“unlimited”), kept as the nearest double. */
  readonly max: number | undefined;
  readonly issues: readonly ParseIssue[];
}

/** A decimal, possibly too big to be exact (file-max may be LONG_MAX): the nearest double, or undefined. */
function parseBigCount(token: string | undefined): number | undefined {
  return token !== undefined && /^\d+$/.test(token) ? Number(token) : undefined;
}

/** Parses `sys/fs/file-nr`. Pure, never throws. */
export function parseFileNr(text: string): FileNr {
  const { lines, issues } = completeLines(text);
  const line = lines[0];
  const none = { allocated: undefined, unused: undefined, max: undefined };
  if (line === undefined) {
    if (issues.length === 0) issues.push(parseIssue(1, "", "empty file"));
    return { ...none, issues };
  }
  const [allocated, unused, max] = line.trim().split(/\s+/).map(parseBigCount);
  if (allocated === undefined || unused === undefined || max === undefined) {
    issues.push(parseIssue(1, line, "three counts (allocated, unused, max) expected"));
    return { ...none, issues };
  }
  return { allocated, unused, max, issues };
}

/** The metrics the `filehandles` collector emits. */
export const FILEHANDLES_METRICS: readonly MetricDescriptor[] = [
  {
    name: "file_handles_allocated",
    type: "gauge",
    unit: "1",
    help: "Open file handles (struct file) allocated system-wide.",
    labels: [],
    source: "/proc/sys/fs/file-nr",
    nodeExporter: "node_filefd_allocated",
  },
  {
    name: "file_handles_max",
    type: "gauge",
    unit: "1",
    help: "The system-wide limit on file handles (fs.file-max).",
    labels: [],
    source: "/proc/sys/fs/file-nr",
    nodeExporter: "node_filefd_maximum",
  },
  {
    name: "file_handles_used_percent",
    type: "gauge",
    unit: "percent",
    help: "Allocated file handles as a share of fs.file-max.",
    labels: [],
    source: "/proc/sys/fs/file-nr",
  },
];

/** Creates the `filehandles` collector (system-wide file handle use and limit). It takes no options. */
export function createFilehandlesCollector(): Collector {
  const warnings = new WarningLatch();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const text = readProcFile(ctx.proc, FILE_NR, "file handle metrics", problems);
    if (text !== undefined) {
      const nr = parseFileNr(text);
      if (nr.issues.length > 0) {
        problems.push(parseIssuesProblem(ctx.proc, FILE_NR, nr.issues, "file handle metrics are skipped"));
      }
      const emit = (metric: string, value: number) =>
        samples.push({ metric, labels: {}, value, ts: ctx.now });
      if (nr.allocated !== undefined && nr.max !== undefined) {
        emit("file_handles_allocated", nr.allocated);
        emit("file_handles_max", nr.max);
        if (nr.max > 0) emit("file_handles_used_percent", (100 * nr.allocated) / nr.max);
      }
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "filehandles", metrics: FILEHANDLES_METRICS, collect };
}
