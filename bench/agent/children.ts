import { type ChildProcess, spawn } from "node:child_process";
import { onCleanup } from "../harness/cleanup.js";

/** A child process whose output lines we keep, and which is SIGKILLed at exit if still running. */
export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Every stdout and stderr line so far (the newest `KEPT_LINES`). */
  readonly lines: string[];
  /** Resolves with the first line (already seen or future) matching `pred`; rejects after `timeoutMs` or on exit. */
  waitForLine(pred: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** Sends `signal`, waits for the exit (SIGKILL after `timeoutMs`); resolves to the exit code. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number | null>;
}

const KEPT_LINES = 200;

/** Spawns `command args…` with piped output, registered for cleanup. */
export function spawnChild(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Child {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const unregister = onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: string[] = [];
  const waiters: { pred: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const take = () => {
    let partial = "";
    return (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        for (let i = waiters.length - 1; i >= 0; i--) {
          const waiter = waiters[i];
          if (waiter?.pred(line)) {
            waiters.splice(i, 1);
            waiter.resolve(line);
          }
        }
      }
    };
  };
  child.stdout.on("data", take());
  child.stderr.on("data", take());
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return {
    pid: child.pid,
    process: child,
    lines,
    waitForLine(pred, timeoutMs) {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const fail = (why: string) =>
          reject(new Error(`${command}: ${why}; its last output:\n${lines.slice(-20).join("\n")}`));
        const timer = setTimeout(() => fail(`no expected line within ${timeoutMs} ms`), timeoutMs);
        void exited.then((code) => {
          clearTimeout(timer);
          fail(`exited (${code ?? child.signalCode}) before the expected line`);
        });
        waiters.push({
          pred,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    async stop(signal, timeoutMs) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      unregister();
      return code;
    },
  };
}
