import { spawn } from "node:child_process";
import { onCleanup } from "./cleanup.js";

/**
 * Runs a command to completion (SIGKILLed at exit if still running); resolves to its trimmed stdout,
 * rejects with its exit code and stderr on failure. `label` names it in that error (default: the
 * command).
 */
export function runToEnd(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  label = command,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const unregister = onCleanup(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code) => {
      unregister();
      if (code === 0) resolve(stdout.trim());
      else reject(new Error(`${label} ${args.join(" ")} exited with ${code}: ${stderr.trim()}`));
    });
  });
}
