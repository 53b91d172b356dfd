import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { DEFAULT_PAGE_SIZE_BYTES, readPageSize } from "./page-size.js";
import { type ParseIssue, parseIssue } from "./proc-text.js";
import type { ProcFs } from "./procfs.js";
import { isProcReadError } from "./procfs.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/**
 * Clock ticks per second of the times in `<pid>/stat` (`sysconf(_SC_CLK_TCK)`, USER_HZ). It is
 * 100 on every Linux architecture Node runs on: the kernel converts to this fixed userspace unit
 * whatever its internal HZ, and Node has no sysconf to ask.
 */
export const USER_HZ = 100;
/** `PF_KTHREAD` in `<pid>/stat`'s flags (include/linux/sched.h): a kernel thread, which has no memory map, files or command line. */
export const PF_KTHREAD = 0x0020_0000;
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
  /** (9) the kernel's PF_* flags; {@link PF_KTHREAD} marks a kernel thread. */
  readonly flags: number;
  /** (14)+(15) user and system time in USER_HZ ticks. */
  readonly cpuTicks: number;
  /** (20) */
  readonly numThreads: number;
  /** (22) start time after boot in ticks: with the pid, it tells a reused pid from the old process. */
  readonly startTicks: number;
  /** (24) resident set size in pages. */
  readonly rssPages: number;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** Fields after the comm, counted from field (3) = 0, that {@link parsePidStat} reads. */
const FIELD_STATE = 0;
const FIELD_FLAGS = 6;
const FIELD_UTIME = 11;
const FIELD_STIME = 12;
const FIELD_THREADS = 17;
const FIELD_START = 19;
const FIELD_RSS = 21;

function isAsciiSpace(code: number): boolean {
  return code === SPACE || (code >= 0x09 && code <= 0x0d);
}

/** The decimal counter in `bytes[from, to)`, or undefined when it is empty, has a non-digit or is not exact. */
function countAt(bytes: Uint8Array, from: number, to: number): number | undefined {
  if (from >= to) return undefined;
  let value = 0;
  for (let i = from; i < to; i++) {
    const byte = bytes[i] ?? 0;
    if (byte < DIGIT_0 || byte > DIGIT_9) return undefined;
    value = value * 10 + (byte - DIGIT_0);
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return value;
}

/** {@link countAt} over a latin1 decoding of the bytes (one character per byte). */
function countInText(text: string, from: number, to: number): number | undefined {
  if (from >= to) return undefined;
  let value = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code < DIGIT_0 || code > DIGIT_9) return undefined;
    value = value * 10 + (code - DIGIT_0);
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return value;
}

/** A character that is not ASCII: in a latin1 decoding, a byte of a multi-byte UTF-8 sequence. */
const NON_ASCII = /[\u0080-\u00ff]/;

/**
 * `bytes[from, to)` as text: a slice of `latin1` (the same bytes decoded one character per byte) when
 * the line is ASCII, as nearly every line is; decoded as UTF-8 otherwise.
 */
function textAt(bytes: Buffer, latin1: string, ascii: boolean, from: number, to: number): string {
  return ascii ? latin1.slice(from, to) : bytes.toString("utf8", from, to);
}

function statIssue(bytes: Buffer, end: number, reason: string): ParseIssue {
  return parseIssue(1, bytes.toString("utf8", 0, end), reason);
}

/**
 * Parses one `<pid>/stat` line from its bytes, as read: it is read for every process on every tick.
 * The line is decoded once as latin1 (one character per byte, so string offsets are byte offsets)
 * and fields are found with the string's own indexOf: the agent runs without V8's optimising
 * compiler (packages/agent/src/v8-settings.ts), where a byte-by-byte loop over the line cost 1.5 ms
 * per 300 processes and this 0.66 ms (0.15 ms either way when optimised). Only the comm (and the
 * state letter) become strings. The comm field is everything between the first `(` and the LAST
 * `)`, since the name itself may contain `) (`. Pure, never throws: returns the reason instead.
 */
export function parsePidStat(bytes: Buffer): PidStat | ParseIssue {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === NEWLINE) end--;
  const line = bytes.toString("latin1", 0, end);
  const ascii = !NON_ASCII.test(line);
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 1 || close < open) return statIssue(bytes, end, "no (comm) field");

  let pidFrom = 0;
  let pidTo = open;
  while (pidFrom < pidTo && isAsciiSpace(line.charCodeAt(pidFrom))) pidFrom++;
  while (pidTo > pidFrom && isAsciiSpace(line.charCodeAt(pidTo - 1))) pidTo--;
  const pid = countInText(line, pidFrom, pidTo);

  // The fields after the comm, trimmed, one space apart (two spaces make an empty, invalid field).
  let from = close + 1;
  let to = end;
  while (from < to && isAsciiSpace(line.charCodeAt(from))) from++;
  while (to > from && isAsciiSpace(line.charCodeAt(to - 1))) to--;
  let state = "";
  let flags: number | undefined;
  let utime: number | undefined;
  let stime: number | undefined;
  let numThreads: number | undefined;
  let startTicks: number | undefined;
  let rssPages: number | undefined;
  let tokenStart = from;
  for (let field = 0; field <= FIELD_RSS && tokenStart <= to; field++) {
    let i = line.indexOf(" ", tokenStart);
    if (i < 0 || i > to) i = to;
    if (field === FIELD_STATE) state = textAt(bytes, line, ascii, tokenStart, i);
    else if (field === FIELD_FLAGS) flags = countInText(line, tokenStart, i);
    else if (field === FIELD_UTIME) utime = countInText(line, tokenStart, i);
    else if (field === FIELD_STIME) stime = countInText(line, tokenStart, i);
    else if (field === FIELD_THREADS) numThreads = countInText(line, tokenStart, i);
    else if (field === FIELD_START) startTicks = countInText(line, tokenStart, i);
    else if (field === FIELD_RSS) rssPages = countInText(line, tokenStart, i);
    tokenStart = i + 1;
  }
  if (
    pid === undefined ||
    flags === undefined ||
    utime === undefined ||
    stime === undefined ||
    numThreads === undefined ||
    startTicks === undefined ||
    rssPages === undefined
  ) {
    return statIssue(bytes, end, "fields 9, 14, 15, 20, 22 and 24 must be counters");
  }
  return {
    pid,
    comm: textAt(bytes, line, ascii, open + 1, close),
    state,
    flags,
    cpuTicks: utime + stime,
    numThreads,
    startTicks,
    rssPages,
  };
}

/**
 * The resident pages in a `<pid>/statm` line (`size resident shared text lib data dt`, in pages), or
 * undefined when its second field is not a counter. Pure, never throws.
 */
export function parseStatmResidentPages(bytes: Buffer): number | undefined {
  const first = bytes.indexOf(SPACE);
  if (first < 0) return undefined;
  let end = first + 1;
  while (end < bytes.length && bytes[end] !== SPACE && bytes[end] !== NEWLINE) end++;
  return countAt(bytes, first + 1, end);
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
    source: "/proc/[pid]/statm (resident × the page size in /proc/self/auxv)",
  },
  {
    name: "process_threads",
    type: "gauge",
    unit: "1",
    help: "Threads of a top process.",
    labels: ["pid", "name"],
    source: "/proc/[pid]/stat (num_threads)",
  },
  {
    name: "process_open_fds",
    type: "gauge",
    unit: "1",
    help: "Open file descriptors of a top process (left out where the agent may not list them).",
    labels: ["pid", "name"],
    source: "/proc/[pid]/fd (its size in stat(2) on Linux ≥ 6.2, else a listing)",
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

/** Per-process descriptors (`stat`, and `statm` of top processes) are kept only while the reader holds fewer than this (well under common fd limits). */
const MAX_KEPT_STAT_FILES = 4096;

/** What the collector remembers of a process between ticks, keyed by its `/proc` directory name. */
interface Tracked {
  /** With the pid, tells a reused pid from the process that had it before. */
  startTicks: number;
  cpuTicks: number;
  atMs: number;
  /** The collection that last read its stat: a process missing from one is gone. */
  seenIn: number;
  /** Read the first time the process is listed in a top N, then kept while it lives. */
  cmdline: string | undefined;
}

interface Candidate {
  readonly name: string;
  readonly stat: PidStat;
  readonly cpuPercent: number | undefined;
  readonly tracked: Tracked;
}

/**
 * Creates the `processes` collector: process and thread totals, and per-process CPU, memory,
 * threads, open fds and command line for the top N processes by CPU and the top N by memory.
 *
 * Cost, per tick: one `readdir` of the procfs root and ONE read of `<pid>/stat` per process, on a
 * descriptor kept open between ticks (up to MAX_KEPT_STAT_FILES in the reader; closed once the process
 * is no longer listed), parsed from the bytes. The ranking and most of what a top process reports
 * come from that stat line (CPU, threads); besides it, a top process costs one read of `statm` (its
 * exact rss, also on a kept descriptor), one `stat(2)` of `<pid>/fd` for its open fds (see
 * `ProcFs.countFdEntries`) and, once per process, a read of its command line. `status` is never read. A process is keyed by pid and start time, so a reused pid starts
 * over; the first reading of a process has no CPU percentage. Processes that exit mid-read are
 * skipped silently; `fd/` of another user's process when not root (EACCES) just leaves out its
 * `process_open_fds`.
 */
export function createProcessesCollector(options: ProcessesOptions = { topN: 10 }): Collector {
  // Options come validated from the schema; an unvalidated object (create({}) in tests) gets the default.
  const topN = Number.isInteger(options.topN) ? options.topN : 10;
  const warnings = new WarningLatch();
  const tracked = new Map<string, Tracked>();
  let collections = 0;
  let pageSizeBytes: number | undefined;

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    if (pageSizeBytes === undefined) {
      pageSizeBytes = readPageSize(ctx.proc);
      if (pageSizeBytes === undefined) {
        pageSizeBytes = DEFAULT_PAGE_SIZE_BYTES;
        ctx.logger.info(
          { file: ctx.proc.pathOf("self/auxv") },
          `cannot read the page size from ${ctx.proc.pathOf("self/auxv")}; process memory assumes ${DEFAULT_PAGE_SIZE_BYTES}-byte pages`,
        );
      }
    }
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

    const collection = ++collections;
    const candidates: Candidate[] = [];
    let threads = 0;
    const failedCodes = new Map<string, number>();
    let malformed: ParseIssue | undefined;
    let malformedPath = "";
    for (const name of names) {
      const first = name.charCodeAt(0);
      if (first < 48 || first > 57 || !/^\d+$/.test(name)) continue;
      let stat: PidStat | ParseIssue;
      try {
        // A pread on a kept descriptor instead of open+read+close (~1.2 ms instead of ~3.3 ms for
        // 300 processes here), and one read: the line is generated whole, so no second read for EOF.
        const bytes = ctx.proc.readBytes(`${name}/stat`, {
          keepOpen: ctx.proc.keptCount < MAX_KEPT_STAT_FILES,
          singleRecord: true,
        });
        stat = parsePidStat(bytes);
      } catch (error: unknown) {
        const code = isProcReadError(error) ? error.code : "EUNKNOWN";
        if (!GONE_CODES.has(code)) failedCodes.set(code, (failedCodes.get(code) ?? 0) + 1);
        continue;
      }
      if (!("pid" in stat)) {
        malformed ??= stat;
        malformedPath ||= ctx.proc.pathOf(`${name}/stat`);
        continue;
      }
      threads += stat.numThreads;
      let known = tracked.get(name);
      let cpuPercent: number | undefined;
      if (known === undefined || known.startTicks !== stat.startTicks) {
        known = {
          startTicks: stat.startTicks,
          cpuTicks: stat.cpuTicks,
          atMs: ctx.now,
          seenIn: collection,
          cmdline: undefined,
        };
        tracked.set(name, known);
      } else {
        if (ctx.now > known.atMs && stat.cpuTicks >= known.cpuTicks) {
          cpuPercent = (100 * (stat.cpuTicks - known.cpuTicks) * (1000 / USER_HZ)) / (ctx.now - known.atMs);
        }
        known.cpuTicks = stat.cpuTicks;
        known.atMs = ctx.now;
        known.seenIn = collection;
      }
      candidates.push({ name, stat, cpuPercent, tracked: known });
    }
    // Forget the processes this collection did not read (they exited), and close their kept stat files.
    for (const [name, known] of tracked) {
      if (known.seenIn === collection) continue;
      tracked.delete(name);
      ctx.proc.release(`${name}/stat`);
      ctx.proc.release(`${name}/statm`);
    }

    const emit = (metric: string, labels: Record<string, string>, value: number) =>
      samples.push({ metric, labels, value, ts: ctx.now });
    emit("processes_total", {}, candidates.length);
    emit("threads_total", {}, threads);

    for (const candidate of topProcesses(candidates, topN)) {
      emitProcess(ctx.proc, candidate, pageSizeBytes, emit);
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
 * the size of its fd/ directory. A process whose cmdline cannot be read has exited (or is hidden from
 * us) and emits nothing this tick.
 */
function emitProcess(
  proc: ProcFs,
  { name, stat, cpuPercent, tracked }: Candidate,
  pageSizeBytes: number,
  emit: (metric: string, labels: Record<string, string>, value: number) => void,
): void {
  // A kernel thread has no command line, no memory map and no descriptor table: nothing to read.
  const kernelThread = (stat.flags & PF_KTHREAD) !== 0;
  if (tracked.cmdline === undefined) {
    try {
      tracked.cmdline = kernelThread ? "" : formatCmdline(proc.read(`${name}/cmdline`, { keepOpen: false }));
    } catch {
      // Exited between its stat and now (ENOENT/ESRCH), or hidden from us: without its command line
      // it is left out this tick, silently, as a process that vanished mid-read.
      return;
    }
  }
  // statm's resident count is exact where stat's rss may not be: recent kernels (6.18 here) answer
  // stat from the per-CPU rss counters without summing them, so it runs short by up to a batch of
  // pages per CPU (measured here for an idle bash: 4060 KiB in stat, 4224 KiB in statm and status).
  // So stat's rss only ranks; the reported bytes come from statm (on a kept descriptor, like stat:
  // top processes stay top for many ticks).
  let residentPages = stat.rssPages;
  let openFds: number | undefined = kernelThread ? 0 : undefined;
  if (!kernelThread) {
    try {
      const statm = proc.readBytes(`${name}/statm`, {
        keepOpen: proc.keptCount < MAX_KEPT_STAT_FILES,
        singleRecord: true,
      });
      residentPages = parseStatmResidentPages(statm) ?? residentPages;
    } catch {
      // Exited since its stat was read, or a recording without statm: stat's rss is this tick's figure.
    }
    try {
      openFds = proc.countFdEntries(`${name}/fd`);
    } catch {
      // EACCES: another user's process and the agent is not root; ENOENT: it just exited. Either way
      // only this one number is missing, and it would be the same every tick: no warning.
    }
  }
  const pid = String(stat.pid);
  const labels = { pid, name: stat.comm };
  if (cpuPercent !== undefined) emit("process_cpu_percent", labels, cpuPercent);
  emit("process_memory_bytes", labels, residentPages * pageSizeBytes);
  emit("process_threads", labels, stat.numThreads);
  if (openFds !== undefined) emit("process_open_fds", labels, openFds);
  const cmdline = tracked.cmdline === "" ? `[${stat.comm}]` : tracked.cmdline;
  emit("process_info", { pid, name: stat.comm, cmdline }, 1);
}
