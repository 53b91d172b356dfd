/**
 * Last-resort cleanup for a benchmark process: children it started and temp dirs it made are removed
 * on normal exit, on SIGINT/SIGTERM, on an uncaught error and when the hard time limit passes.
 * Cleanups are synchronous (SIGKILL, rmSync) so they also work from `process.on("exit")`.
 */
const cleanups: (() => void)[] = [];
let cleaned = false;

/** Registers `fn` to run once at exit; returns a function that unregisters it. */
export function onCleanup(fn: () => void): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every registered cleanup, newest first; the second call does nothing. */
export function runCleanups(): void {
  if (cleaned) return;
  cleaned = true;
  for (const fn of cleanups.reverse()) {
    try {
      fn();
    } catch (err) {
      process.stderr.write(`bench: cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

/**
 * Installs the exit and signal hooks, and a hard limit after which the process cleans up and exits 1
 * whatever it is doing. Call once, first thing.
 */
export function installCleanupHooks(benchmark: string, hardLimitMs: number): void {
  process.on("exit", runCleanups);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      process.stderr.write(`bench ${benchmark}: ${signal}, stopping\n`);
      runCleanups();
      process.exit(1);
    });
  }
  const timer = setTimeout(() => {
    process.stderr.write(`bench ${benchmark}: still running after ${hardLimitMs} ms, giving up\n`);
    runCleanups();
    process.exit(1);
  }, hardLimitMs);
  timer.unref();
}
