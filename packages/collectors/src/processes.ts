import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import type { ProcFs } from "./procfs.js";
import { isProcReadError } from "./procfs.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/**
 * Clock ticks per second of the times in `<pid>/stat` (`sysconf(_SC_CLK_TCK)`, USER_HZ). It is
 * 100 on every Linux architecture Node runs on: the kernel converts to this fixed userspace unit
 * whatever its internal HZ, and Node has no sysconf to ask.
 */
export const USER_HZ = 100;
/** Bytes per page for `<pid>/stat`'s rss when `status` has no VmRSS: 4096 on x86-64 and most arm64 kernels. */
export const PAGE_SIZE_BYTES = 4096;
/** The `cmdline` label keeps this many characters. */
export const CMDLINE_MAX_CHARS = 128;

/** The fields of `<pid>/stat` the collector uses (proc(5) field numbers in comments). */
export interface PidStat {
  /** (1) */
  readonly pid: number;
  /** (2) the command name, without its parentheses; up to 15 bytes, may itself hold spaces and parentheses. */
  readonly comm: string;
  /** (3) R, S, D, Z, T, t, X, I … */
  readonly state: string;
  /** (14)+(15) user and system time in USER_HZ ticks. */
  readonly cpuTicks: number;
  /** (20) */
  readonly numThreads: number;
  /** (22) start time after boot in ticks: with the pid, it tells a reused pid from the old process. */
  readonly startTicks: number;
  /** (24) resident set size in pages. */
  readonly rssPages: number;
}

/**
 * Parses one `<pid>/stat` line. The comm field is everything between the first `(` and the LAST
 * `)`, since the name itself may contain `) (`. Pure, never throws: returns the reason instead.
 */
export function parsePidStat(text: string): PidStat | ParseIssue {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const line = text.endsWith("\n") ? text.slice(0, -1) : text;
  if (open < 1 || close < open) return parseIssue(1, line, "no (comm) field");
  const pid = parseCount(text.slice(0, open).trim());
  const fields = text
    .slice(close + 1)
    .trim()
    .split(" ");
  // fields[0] is field (3); field n is fields[n - 3].
  const utime = parseCount(fields[11]);
  const stime = parseCount(fields[12]);
  const numThreads = parseCount(fields[17]);
  const startTicks = parseCount(fields[19]);
  const rssPages = parseCount(fields[21]);
  if (
    pid === undefined ||
    utime === undefined ||
    stime === undefined ||
    numThreads === undefined ||
    startTicks === undefined ||
    rssPages === undefined
  ) {
    return parseIssue(1, line, "fields 14, 15, 20, 22 and 24 must be counters");
  }
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0] ?? "",
    cpuTicks: utime + stime,
    numThreads,
    startTicks,
    rssPages,
  };
}

/** What {@link parsePidStatus} found in `<pid>/status`; fields a process lacks (kernel threads have no VmRSS) are undefined. */
export interface PidStatus {
  readonly name: string | undefined;
  /** VmRSS, bytes (the file says kB, meaning KiB). */
  readonly rssBytes: number | undefined;
  readonly threads: number | undefined;
}

/** Parses `<pid>/status` (`Key:\tvalue` lines). Pure, never throws. */
export function parsePidStatus(text: string): PidStatus {
  let name: string | undefined;
  let rssBytes: number | undefined;
  let threads: number | undefined;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (key === "Name") name = value;
    else if (key === "Threads") threads = parseCount(value);
    else if (key === "VmRSS") {
      const match = /^(\d+) kB$/.exec(value);
      const kib = parseCount(match?.[1]);
      if (kib !== undefined) rssBytes = kib * 1024;
    }
  }
  return { name, rssBytes, threads };
}

/**
 * `<pid>/cmdline` as one label value: NUL separators become spaces, trailing NULs go, and it is
 * cut to {@link CMDLINE_MAX_CHARS}. Empty for kernel threads and zombies. Pure.
 */
export function formatCmdline(raw: string): string {
  let text = raw;
  while (text.endsWith("\0")) text = text.slice(0, -1);
  return text.replaceAll("\0", " ").slice(0, CMDLINE_MAX_CHARS);
}

/** The metrics the `processes` collector emits. */
export const PROCESSES_METRICS: readonly MetricDescriptor[] = [
  {
    name: "processes_total",
    type: "gauge",
    unit: "1",
    help: "Processes (thread group leaders) that exist now.",
    labels: [],
    source: "/proc/[pid]/stat",
    nodeExporter: "node_processes_pids",
  },
  {
    name: "threads_total",
    type: "gauge",
    unit: "1",
    help: "Threads of all processes together.",
    labels: [],
    source: "/proc/[pid]/stat (num_threads)",
    nodeExporter: "node_processes_threads",
  },
  {
    name: "process_cpu_percent",
    type: "gauge",
    unit: "percent",
    help: "CPU time (user + system) of a top process since the previous reading, as a share of one CPU: 100 is one CPU busy, a multi-threaded process can exceed it.",
    labels: ["pid", "name"],
    source: "/proc/[pid]/stat (utime, stime)",
  },
  {
    name: "process_memory_bytes",
    type: "gauge",
    unit: "bytes",
    help: "Resident set size of a top process.",
    labels: ["pid", "name"],
    source: "/proc/[pid]/status (VmRSS)",
  },
  {
    name: "process_threads",
    type: "gauge",
    unit: "1",
    help: "Threads of a top process.",
    labels: ["pid", "name"],
    source: "/proc/[pid]/status (Threads)",
  },
  {
    name: "process_open_fds",
    type: "gauge",
    unit: "1",
    help: "Open file descriptors of a top process (left out where the agent may not list them).",
    labels: ["pid", "name"],
    source: "/proc/[pid]/fd",
  },
  {
    name: "process_info",
    type: "gauge",
    unit: "1",
    help: "Always 1, for each top process: carries its command line (first 128 characters; [name] for kernel threads).",
    labels: ["pid", "name", "cmdline"],
    source: "/proc/[pid]/cmdline",
  },
];

export interface ProcessesOptions {
  /** How many processes to list by CPU and by memory (the union of both is reported); 0 lists none. */
  readonly topN: number;
}

/** Read errors that mean the process exited between listing and reading: not a problem. */
const GONE_CODES = new Set(["ENOENT", "ESRCH"]);

/** At most this many `<pid>/stat` descriptors stay open between ticks (well under common fd limits). */
const MAX_KEPT_STAT_FILES = 4096;

interface Candidate {
  readonly stat: PidStat;
  readonly cpuPercent: number | undefined;
}

/**
 * Creates the `processes` collector: process and thread totals, and per-process CPU, memory,
 * threads, open fds and command line for the top N processes by CPU and the top N by memory.
 *
 * Cost: one `readdir` of the procfs root and one read of `<pid>/stat` per process per tick, on a
 * descriptor kept open between ticks (up to MAX_KEPT_STAT_FILES; released when the process is no
 * longer listed); the ranking uses stat's utime+stime and rss alone, and `status` and `fd/` are read
 * only for the listed processes, `cmdline` once per process. A process keyed by pid and start time, so a reused pid starts over; the first reading
 * of a process has no CPU percentage. Processes that exit mid-read are skipped silently; `fd/`
 * of another user's process when not root (EACCES) just leaves out its `process_open_fds`.
 */
export function createProcessesCollector(options: ProcessesOptions = { topN: 10 }): Collector {
  // Options come validated from the schema; an unvalidated object (create({}) in tests) gets the default.
  const topN = Number.isInteger(options.topN) ? options.topN : 10;
  const warnings = new WarningLatch();
  /** `pid:startTicks` → cpu ticks and when read, from the previous tick only. */
  let previous = new Map<string, { ticks: number; atMs: number }>();
  /** Pids whose stat file the reader may keep open. */
  const keptStat = new Set<string>();
  /** `pid:startTicks` → cmdline: a process's command line is read once, not every tick. */
  const cmdlines = new Map<string, string>();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    let names: string[];
    try {
      names = ctx.proc.list("");
    } catch (error: unknown) {
      const code = isProcReadError(error) ? error.code : "EUNKNOWN";
      problems.push({
        key: `list::${code}`,
        message: `cannot list ${ctx.proc.pathOf("")} (${code}), so process metrics are not collected: check that the agent's procfs root points at a mounted procfs`,
        details: { file: ctx.proc.pathOf(""), code },
      });
      warnings.settle(ctx.logger, problems);
      return samples;
    }

    const current = new Map<string, { ticks: number; atMs: number }>();
    const seen = new Set<string>();
    const candidates: Candidate[] = [];
    let threads = 0;
    const failedCodes = new Map<string, number>();
    let malformed: ParseIssue | undefined;
    let malformedPath = "";
    for (const name of names) {
      const first = name.charCodeAt(0);
      if (first < 48 || first > 57 || !/^\d+$/.test(name)) continue;
      let text: string;
      try {
        // Kept open across ticks (a pread instead of open+read+close: ~1.5 ms instead of ~4 ms for
        // 300 processes here), up to a cap; released below once the process is gone.
        text = ctx.proc.read(`${name}/stat`, {
          keepOpen: keptStat.size < MAX_KEPT_STAT_FILES || keptStat.has(name),
        });
        seen.add(name);
      } catch (error: unknown) {
        const code = isProcReadError(error) ? error.code : "EUNKNOWN";
        if (!GONE_CODES.has(code)) failedCodes.set(code, (failedCodes.get(code) ?? 0) + 1);
        continue;
      }
      const stat = parsePidStat(text);
      if (!("pid" in stat)) {
        malformed ??= stat;
        malformedPath ||= ctx.proc.pathOf(`${name}/stat`);
        continue;
      }
      threads += stat.numThreads;
      const key = `${stat.pid}:${stat.startTicks}`;
      const before = previous.get(key);
      current.set(key, { ticks: stat.cpuTicks, atMs: ctx.now });
      let cpuPercent: number | undefined;
      if (before !== undefined && ctx.now > before.atMs && stat.cpuTicks >= before.ticks) {
        cpuPercent = (100 * (stat.cpuTicks - before.ticks) * (1000 / USER_HZ)) / (ctx.now - before.atMs);
      }
      candidates.push({ stat, cpuPercent });
    }
    previous = current;
    // Close the kept stat files of processes that were not listed this tick (they exited).
    ctx.proc.releaseKept((relPath) => {
      const slash = relPath.indexOf("/");
      const pid = relPath.slice(0, slash);
      return slash > 0 && relPath.slice(slash) === "/stat" && /^\d+$/.test(pid) && !seen.has(pid);
    });
    for (const name of keptStat) if (!seen.has(name)) keptStat.delete(name);
    for (const name of seen) if (keptStat.size < MAX_KEPT_STAT_FILES) keptStat.add(name);
    for (const key of cmdlines.keys()) if (!current.has(key)) cmdlines.delete(key);

    const emit = (metric: string, labels: Record<string, string>, value: number) =>
      samples.push({ metric, labels, value, ts: ctx.now });
    emit("processes_total", {}, candidates.length);
    emit("threads_total", {}, threads);

    for (const candidate of topProcesses(candidates, topN)) {
      emitProcess(ctx.proc, candidate, cmdlines, emit);
    }

    for (const [code, count] of failedCodes) {
      problems.push({
        key: `read:pid-stat:${code}`,
        message: `cannot read the stat file of ${count} process(es) under ${ctx.proc.pathOf("")} (${code}), so they are left out of the process metrics: run the agent as a user allowed to read them, or relax the procfs mount's hidepid option`,
        details: { code, count },
      });
    }
    if (malformed !== undefined) {
      problems.push({
        key: "parse:pid-stat",
        message: `skipped a malformed ${malformedPath} ("${malformed.text}": ${malformed.reason}); if this repeats, report it with the file attached`,
        details: { file: malformedPath, issue: malformed },
      });
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "processes", metrics: PROCESSES_METRICS, collect };
}

/** The union of the top `n` by CPU percentage and the top `n` by resident pages, ordered by pid. */
function topProcesses(candidates: readonly Candidate[], n: number): Candidate[] {
  if (n <= 0) return [];
  const byCpu = candidates
    .filter((c) => c.cpuPercent !== undefined)
    .sort((a, b) => (b.cpuPercent ?? 0) - (a.cpuPercent ?? 0) || a.stat.pid - b.stat.pid)
    .slice(0, n);
  const byMemory = [...candidates]
    .sort((a, b) => b.stat.rssPages - a.stat.rssPages || a.stat.pid - b.stat.pid)
    .slice(0, n);
  return [...new Set([...byCpu, ...byMemory])].sort((a, b) => a.stat.pid - b.stat.pid);
}

/**
 * Emits a listed process's samples from its stat numbers, its cmdline (read once per process) and
 * the size of its fd/ directory; a process that exited meanwhile emits nothing.
 */
function emitProcess(
  proc: ProcFs,
  { stat, cpuPercent }: Candidate,
  cmdlines: Map<string, string>,
  emit: (metric: string, labels: Record<string, string>, value: number) => void,
): void {
  const pid = String(stat.pid);
  const key = `${stat.pid}:${stat.startTicks}`;
  let status: PidStatus;
  let cmdline = cmdlines.get(key);
  try {
    status = parsePidStatus(proc.read(`${pid}/status`, { keepOpen: false }));
    if (cmdline === undefined) {
      cmdline = formatCmdline(proc.read(`${pid}/cmdline`, { keepOpen: false }));
      cmdlines.set(key, cmdline);
    }
  } catch {
    // Exited between its stat and now (ENOENT/ESRCH), or hidden from us: its stat numbers alone
    // would describe a process that no longer exists, so it is left out this tick.
    return;
  }
  let openFds: number | undefined;
  try {
    openFds = proc.list(`${pid}/fd`).length;
  } catch {
    // EACCES: another user's process and the agent is not root; ENOENT: it just exited. Either way
    // only this one number is missing, and it would be the same every tick: no warning.
  }
  const labels = { pid, name: stat.comm };
  if (cpuPercent !== undefined) emit("process_cpu_percent", labels, cpuPercent);
  emit("process_memory_bytes", labels, status.rssBytes ?? stat.rssPages * PAGE_SIZE_BYTES);
  emit("process_threads", labels, status.threads ?? stat.numThreads);
  if (openFds !== undefined) emit("process_open_fds", labels, openFds);
  emit("process_info", { pid, name: stat.comm, cmdline: cmdline === "" ? `[${stat.comm}]` : cmdline }, 1);
}
