import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { onCleanup } from "../harness/cleanup.js";
import { freePort } from "../harness/free-port.js";
import { runToEnd } from "../harness/run-to-end.js";

/** The binary users run; `tsc -b` (run by `npm run bench`) builds what it loads. */
export const SERVER_BIN = fileURLToPath(
  new URL("../../packages/server/bin/vigil-server.js", import.meta.url),
);
const SERVER_DIST = fileURLToPath(new URL("../../packages/server/dist/cli/main.js", import.meta.url));

const HEALTH_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
/** Lines of server output kept to explain a failure. */
const KEPT_LINES = 50;

export interface ServerProcess {
  readonly pid: number;
  readonly grpcAddress: string;
  readonly env: Readonly<Record<string, string>>;
  /** Creates a one-time enrolment token with the real CLI (`vigil-server enroll-token create`). */
  createEnrollToken(): Promise<string>;
  /** SIGTERM, then waits for the exit (SIGKILL after a timeout); resolves to the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  readonly dataDir: string;
  /** Where the server writes a V8 CPU profile (`--cpu-prof`) when it exits; none when undefined. */
  readonly cpuProfDir?: string | undefined;
  readonly log: (message: string) => void;
}

/**
 * Starts `vigil-server` as a child on loopback ports with its data in `dataDir`, and resolves once
 * `GET /api/v1/health` answers. The child is SIGKILLed at exit if still running, whatever happened.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  if (!existsSync(SERVER_DIST)) throw new Error(`${SERVER_DIST} is missing: build first (npm run build)`);
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const env = {
    VIGIL_DATA_DIR: options.dataDir,
    VIGIL_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    VIGIL_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
    VIGIL_LOG_LEVEL: "warn",
  };
  const profile = options.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfDir] : [];
  const child = spawn(process.execPath, [...profile, SERVER_BIN], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const unregister = onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const output = keepLines(child);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  try {
    await waitForHealth(`http://127.0.0.1:${httpPort}/api/v1/health`, child);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\nserver output:\n${output.join("\n")}`,
    );
  }
  options.log(`server pid ${child.pid} listening on 127.0.0.1:${grpcPort} (gRPC), ${httpPort} (HTTP)`);

  if (child.pid === undefined) throw new Error("vigil-server has no pid");
  return {
    pid: child.pid,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    env,
    createEnrollToken: () => runCli(["enroll-token", "create", "--ttl", "10m"], env),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      unregister();
      if (code !== 0) options.log(`server exited with ${code}; its last output:\n${output.join("\n")}`);
      return code;
    },
  };
}

/** Keeps the child's last output lines; its warn/error log lines also go to our stderr as they come. */
function keepLines(child: ChildProcess): string[] {
  const lines: string[] = [];
  const take = (forward: boolean) => {
    let partial = "";
    return (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        if (forward) process.stderr.write(`server: ${line}\n`);
      }
    };
  };
  // stdout carries pino lines at warn and above (we run it at warn); stderr carries the first-start
  // admin token, which is noise here and is only shown if the server fails.
  child.stdout?.on("data", take(true));
  child.stderr?.on("data", take(false));
  return lines;
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let lastError = "no answer yet";
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `vigil-server exited (${child.exitCode ?? child.signalCode}) before it answered ${url}`,
      );
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      // Not listening yet: retried until the deadline, whose error carries the last reason.
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`vigil-server did not answer ${url} within ${HEALTH_TIMEOUT_MS} ms (${lastError})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs a `vigil-server` subcommand to completion; resolves to its trimmed stdout, rejects on failure. */
function runCli(args: readonly string[], env: Readonly<Record<string, string>>): Promise<string> {
  return runToEnd(process.execPath, [SERVER_BIN, ...args], { ...process.env, ...env }, "vigil-server");
}
