import { readFileSync } from "node:fs";

/**
 * Bytes a process has passed to write()-like calls so far (`wchar` in `/proc/<pid>/io`): for a SQLite
 * writer that is its WAL appends plus checkpoint copies, so the difference over a run shows the write
 * amplification. Undefined where `/proc` has no such file (not Linux, or not our process to read).
 */
export function bytesWritten(pid: number | "self"): number | undefined {
  try {
    const match = /^wchar:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch (err) {
    process.stderr.write(
      `bench: cannot read /proc/${pid}/io (${err instanceof Error ? err.message : String(err)})\n`,
    );
    return undefined;
  }
}
