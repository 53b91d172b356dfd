import { readFileSync } from "node:fs";

/**
 * Clock ticks per second of `utime`/`stime` in `/proc/<pid>/stat` (`sysconf(_SC_CLK_TCK)`). Linux has
 * reported 100 to user space on every architecture for decades (USER_HZ), whatever the kernel's HZ.
 */
export const CLOCK_TICKS_PER_S = 100;

/** What `/proc/<pid>/stat` and `/proc/<pid>/status` say about one process at one moment. */
export interface ProcUsage {
  /** user + system CPU time so far, in clock ticks. */
  readonly cpuTicks: number;
  /** Resident set size (`VmRSS`), bytes. */
  readonly rssBytes: number;
}

/**
 * Parses `utime` and `stime` (fields 14 and 15) from a `/proc/<pid>/stat` line. The command name (field
 * 2) is in parentheses and may itself hold spaces or parentheses, so fields are counted after the last `)`.
 */
export function parseStatCpuTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected stat line: ${stat}`);
  return utime + stime;
}

/** Parses `VmRSS:  12345 kB` from `/proc/<pid>/status`, in bytes. */
export function parseStatusRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error("no VmRSS line in status (a zombie or kernel thread?)");
  return Number(match[1]) * 1024;
}

/** Reads the CPU ticks and RSS of a live process. Throws when it has gone. */
export function readProcUsage(pid: number): ProcUsage {
  return {
    cpuTicks: parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8")),
    rssBytes: parseStatusRssBytes(readFileSync(`/proc/${pid}/status`, "utf8")),
  };
}

/** CPU percent of one core between two readings `seconds` apart. */
export function cpuPercent(before: ProcUsage, after: ProcUsage, seconds: number): number {
  return ((after.cpuTicks - before.cpuTicks) / CLOCK_TICKS_PER_S / seconds) * 100;
}
