import { spawn } from "node:child_process";

/** Bytes of stdout kept by default; what goes beyond is dropped and `truncated` set. */
export const DEFAULT_STDOUT_CAP_BYTES = 4 * 1024 * 1024;
/** Bytes of stderr kept: enough for the first lines of an error message. */
const STDERR_CAP_BYTES = 64 * 1024;

/** How one run of a command ended. Never an exception: every outcome is a value. */
export interface CommandResult {
  /** Standard output (UTF-8), at most the cap. */
  readonly stdout: string;
  /** Standard error (UTF-8), at most 64 KiB. */
  readonly stderr: string;
  /** Exit code, or undefined when it was killed by a signal or never started. */
  readonly exitCode: number | undefined;
  /** The signal that ended it, e.g. "SIGKILL" after a timeout. */
  readonly signal: string | undefined;
  /** Why it never started (`ENOENT`: no such program, `EACCES`: not executable), else undefined. */
  readonly spawnError: string | undefined;
  /** Killed with SIGKILL because it ran past the timeout. */
  readonly timedOut: boolean;
  /** Stdout went past the cap: the rest was dropped and the child killed. */
  readonly truncated: boolean;
  /** Wall-clock milliseconds from spawn to exit. */
  readonly durationMs: number;
}

export interface RunCommandOptions {
  readonly timeoutMs: number;
  readonly stdoutCapBytes?: number;
}

/**
 * Runs `argv[0]` with the rest as arguments: no shell, stdin closed, the child SIGKILLed once it
 * runs past `timeoutMs` or writes more than the stdout cap. Resolves with what happened; never rejects.
 */
export function runCommand(argv: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  const cap = options.stdoutCapBytes ?? DEFAULT_STDOUT_CAP_BYTES;
  const started = performance.now();
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let timedOut = false;
    let truncated = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (partial: Partial<CommandResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        exitCode: undefined,
        signal: undefined,
        spawnError: undefined,
        timedOut,
        truncated,
        durationMs: performance.now() - started,
        ...partial,
      });
    };
    if (file === undefined || file === "") {
      finish({ spawnError: "ENOENT" });
      return;
    }
    // Its own process group, so a kill also reaches what a script started (a `sleep` holding stdout open).
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], shell: false, detached: true });
    let exited: { exitCode: number | undefined; signal: string | undefined } | undefined;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone (ESRCH): nothing left to kill.
        child.kill("SIGKILL");
      }
      // Do not wait for the pipes: a grandchild outside the group could hold them open.
      if (exited) finish(exited);
    };
    timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      if (truncated) return;
      const room = cap - stdoutBytes;
      if (chunk.length > room) {
        stdout.push(chunk.subarray(0, room));
        stdoutBytes = cap;
        truncated = true;
        killGroup();
        return;
      }
      stdout.push(chunk);
      stdoutBytes += chunk.length;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      const room = STDERR_CAP_BYTES - stderrBytes;
      if (room <= 0) return;
      stderr.push(chunk.subarray(0, room));
      stderrBytes += Math.min(room, chunk.length);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      // Spawn failures (ENOENT, EACCES) come here without a "close"; other errors are followed by one.
      if (child.pid === undefined) finish({ spawnError: error.code ?? "EUNKNOWN" });
    });
    child.on("exit", (code, signal) => {
      exited = { exitCode: code ?? undefined, signal: signal ?? undefined };
      if (timedOut || truncated) finish(exited);
    });
    child.on("close", (code, signal) => {
      finish({ exitCode: code ?? undefined, signal: signal ?? undefined });
    });
  });
}

/** The first non-empty line of `text`, trimmed and cut to 200 characters, for log messages. */
export function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  const trimmed = line.trim();
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
}

/** A short description of how a failed run ended, for warnings. */
export function describeFailure(argv0: string, result: CommandResult, timeoutMs: number): string {
  if (result.spawnError) return `cannot run ${argv0} (${result.spawnError})`;
  if (result.timedOut) return `${argv0} ran longer than ${timeoutMs} ms and was killed`;
  if (result.truncated) return `${argv0} wrote more output than the cap and was killed`;
  const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
  const err = firstLine(result.stderr);
  return `${argv0} ${how}${err ? `: ${err}` : ""}`;
}
