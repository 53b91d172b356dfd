import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readDayFileSamples } from "@vigil/storage";
import Database from "better-sqlite3";
import { afterEach } from "vitest";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
/** The built binaries users run (`tsc -b` runs before the tests). */
export const SERVER_BIN = join(ROOT, "packages/server/bin/vigil-server.js");
export const AGENT_BIN = join(ROOT, "packages/agent/bin/vigil-agent.js");
export const QUICKSTART_BIN = join(ROOT, "packages/quickstart/bin/vigil-start.js");
export const FIXTURES = join(ROOT, "packages/collectors/test/fixtures");
export const CONFIG_DIR = join(ROOT, "config");

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(prefix = "vigil-e2e-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

/** A child process whose output we keep, line by line, and can wait on. */
export class Proc {
  readonly lines: string[] = [];
  private readonly waiters: { pred: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    let partial = "";
    const onData = (d: Buffer) => {
      partial += d.toString("utf8");
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) this.push(line);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.exit = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));
  }

  get output(): string {
    return this.lines.join("\n");
  }

  /** Pino lines parsed as JSON (other lines skipped). */
  logEntries(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.lines) {
      if (!line.startsWith("{")) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    return out;
  }

  /** Resolves with the first line (already seen or future) matching `pred`; rejects after `timeoutMs`. */
  waitForLine(pred: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`no matching line within ${timeoutMs} ms; output:\n${this.output}`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (line) => {
          clearTimeout(timer);
          res(line);
        },
      });
    });
  }

  /** Waits for a pino line whose msg is `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.waitForLine((l) => l.includes(`"msg":${JSON.stringify(msg)}`), timeoutMs).then(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
  }

  async stop(
    signal: NodeJS.Signals = "SIGTERM",
    timeoutMs = 15_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const result = await this.exit;
    clearTimeout(timer);
    return result;
  }

  private push(line: string): void {
    this.lines.push(line);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w?.pred(line)) {
        this.waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  }
}

export function startNode(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Proc {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    cwd,
  });
  return new Proc(child);
}

/** Runs a CLI to completion. */
export async function runCli(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString("utf8");
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
  return { code, stdout, stderr };
}

export interface ServerHandle {
  readonly proc: Proc;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** The admin token printed on first start, if this start printed one. */
  readonly firstToken: string | undefined;
}

/** What most agent end-to-end tests start from (see {@link startFixtureServer}). */
export interface FixtureServer {
  /** The test's temp dir, removed after the test. */
  readonly dir: string;
  /** A copy of the recorded `/proc` fixture (`this-machine/t0/proc`) in it. */
  readonly proc: string;
  /** The server's data dir in it. */
  readonly dataDir: string;
  /** The server running now (stopped after the test). */
  readonly server: ServerHandle;
  /** Starts a new server on the same data dir and ports, once the test has stopped or killed the last one. */
  restart(): Promise<ServerHandle>;
}

/** A temp dir with a copy of the recorded `/proc` fixture and a server on `data/` in it, all cleaned up after the test. */
export async function startFixtureServer(cleanups: {
  push(cleanup: () => unknown): void;
}): Promise<FixtureServer> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const proc = copyFixture("this-machine/t0/proc", join(tmp.path, "proc"));
  const dataDir = join(tmp.path, "data");
  let server = await startServer(dataDir);
  const ports = { httpPort: server.httpPort, grpcPort: server.grpcPort };
  cleanups.push(() => server.proc.stop());
  return {
    dir: tmp.path,
    proc,
    dataDir,
    get server() {
      return server;
    },
    async restart() {
      server = await startServer(dataDir, ports);
      return server;
    },
  };
}

/** Starts `vigil-server` (with `args`, e.g. `--config FILE`) on the given (or fresh) loopback ports and waits until it listens. */
export async function startServer(
  dataDir: string,
  ports?: { httpPort: number; grpcPort: number },
  logLevel = "info",
  args: readonly string[] = [],
): Promise<ServerHandle> {
  const httpPort = ports?.httpPort ?? (await freePort());
  const grpcPort = ports?.grpcPort ?? (await freePort());
  const env = {
    VIGIL_DATA_DIR: dataDir,
    VIGIL_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    VIGIL_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
    VIGIL_LOG_LEVEL: logLevel,
  };
  // A brand-new data dir gets the first-start admin token, printed (to stderr) just after listening.
  const firstStart = !existsSync(join(dataDir, "vigil.db"));
  const proc = startNode(SERVER_BIN, args, env);
  await proc.waitForLog("vigil-server listening");
  const tokenLine = firstStart ? await proc.waitForLine((l) => /^\s+vgt_/.test(l)) : undefined;
  return { proc, httpPort, grpcPort, dataDir, env, firstToken: tokenLine?.trim() };
}

/** Creates a one-time enrolment token with the real CLI. */
export async function createEnrollToken(server: ServerHandle, ttl = "10m"): Promise<string> {
  const r = await runCli(SERVER_BIN, ["enroll-token", "create", "--ttl", ttl], server.env);
  if (r.code !== 0) throw new Error(`enroll-token create failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Writes an agent config into `dir`, enrols it with the real CLI, and returns the config path. */
export async function enrolledAgentConfig(
  server: ServerHandle,
  dir: string,
  opts: { agentId: string; procfs?: string; extra?: string },
): Promise<string> {
  const file = join(dir, "agent.toml");
  writeFileSync(
    file,
    `agent_id = "${opts.agentId}"
server = "127.0.0.1:${server.grpcPort}"
api_key_file = "api.key"
${opts.procfs ? `\n[paths]\nprocfs = "${opts.procfs}"\n` : ""}
${opts.extra ?? ""}
`,
  );
  const token = await createEnrollToken(server);
  const r = await runCli(AGENT_BIN, [
    "enroll",
    "--config",
    file,
    "--server",
    `127.0.0.1:${server.grpcPort}`,
    "--token",
    token,
  ]);
  if (r.code !== 0) throw new Error(`enroll failed: ${r.stderr}`);
  return file;
}

/** Copies a recorded fixture tree (e.g. "this-machine/t0/proc") to `dest`. */
export function copyFixture(relative: string, dest: string): string {
  cpSync(join(FIXTURES, relative), dest, { recursive: true });
  return dest;
}

/** One stored sample, read from the SQLite files (day files decoded by `readDayFileSamples`: chunks are compressed). */
export interface StoredSample {
  readonly metric: string;
  readonly labels: Record<string, string>;
  readonly ts: number;
  readonly value: number;
}

/** Reads every sample of an agent (optionally one metric) from `data_dir/vigil.db` + `data_dir/samples/*.db`. */
export function readStoredSamples(dataDir: string, agentId: string, metric?: string): StoredSample[] {
  const catalog = new Database(join(dataDir, "vigil.db"), { readonly: true });
  const rows = catalog
    .prepare("SELECT id, metric, labels FROM series WHERE agent_id = ? AND (? IS NULL OR metric = ?)")
    .all(agentId, metric ?? null, metric ?? null) as { id: number; metric: string; labels: string }[];
  catalog.close();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out: StoredSample[] = [];
  const samplesDir = resolve(dataDir, "samples");
  for (const file of readdirSync(samplesDir)
    .filter((f) => /^\d{4}-\d{2}-\d{2}\.db$/.test(f))
    .sort()) {
    // Chunks, stragglers and the wal_batches rows not yet chunked, decoded (the file is compressed).
    for (const row of readDayFileSamples(join(samplesDir, file))) {
      const s = byId.get(row.seriesId);
      if (s)
        out.push({
          metric: s.metric,
          labels: JSON.parse(s.labels) as Record<string, string>,
          ts: row.ts,
          value: row.value,
        });
    }
  }
  return out;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Registers an afterEach that runs, newest first, every cleanup pushed during the test (stop
 * processes, remove temp dirs), even when the test failed half-way.
 */
export function cleanupAfterEach(): { push(cleanup: () => unknown): void } {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });
  return { push: (cleanup) => void cleanups.push(cleanup) };
}
