import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Catalog } from "./catalog.js";
import { readDayFileSamples } from "./chunk-day-file.js";
import { ChunkedStorageEngine } from "./chunked-engine.js";
import { CRASH_INTERVAL_MS, CRASH_SERIES, CRASH_T0, crashValue } from "./crash-test-support.js";
import { samplesDir } from "./data-dir-layout.js";

const FIXTURE = fileURLToPath(new URL("../test/fixtures/ingest-until-killed.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const KILLS = 20;
/** Every fourth run is killed this soon after "ready": mid start-up, mid replay of wal_batches, or mid its first commits. */
const EARLY_KILL_MAX_MS = 300;
/** The other runs are killed up to this long after their first ack: mid group commit, chunk flush or checkpoint. */
const LATE_KILL_MAX_MS = 250;
/** A run that never reaches its kill point (a broken fixture) is killed anyway after this long. */
const RUN_LIMIT_MS = 20_000;

/** When a run is killed: `delayMs` after its "ready" line or after its first "acked" line. */
interface KillPoint {
  readonly after: "ready" | "first-ack";
  readonly delayMs: number;
}

/** A fixture child, loaded and waiting on stdin for its first tick. */
interface Fixture {
  readonly loaded: Promise<void>;
  /** Starts ingesting from tick `first`, SIGKILLs at `kill`, resolves to the ticks it reported acked. */
  run(first: number, kill: KillPoint): Promise<number[]>;
}

let dir: string;
let children: ChildProcess[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-crash-"));
  children = [];
});
afterEach(() => {
  // A failed test may leave a loaded child or one still ingesting.
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Spawns the fixture. It loads its modules (most of a run's start-up) while the previous run still
 * ingests, and starts only when `run` sends its first tick, so only one process ever writes.
 */
function spawnFixture(): Fixture {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", FIXTURE, dir], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  const acked: number[] = [];
  let buffered = "";
  let stderr = "";
  let onLoaded = () => {};
  let onLine = (_line: string) => {};
  const loaded = new Promise<void>((resolve) => {
    onLoaded = resolve;
  });
  const exited = new Promise<number[]>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`fixture exited with ${code ?? signal}: ${stderr}`));
      else resolve(acked);
    });
  });
  // A child that dies while loading fails `loaded` instead of leaving it pending.
  const loadedOrExit = Promise.race([
    loaded,
    exited.then(() => Promise.reject(new Error("killed before loading"))),
  ]);
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on("data", (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "loaded") onLoaded();
      else if (line.startsWith("acked ")) acked.push(Number(line.slice(6)));
      onLine(line);
    }
  });
  return {
    loaded: loadedOrExit,
    run(first, kill) {
      const limit = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MS);
      let armed = false;
      onLine = (line) => {
        if (armed) return;
        if (
          (kill.after === "ready" && line === "ready") ||
          (kill.after === "first-ack" && line.startsWith("acked "))
        ) {
          armed = true;
          setTimeout(() => child.kill("SIGKILL"), kill.delayMs);
        }
      };
      child.stdin?.write(`${first}\n`);
      return exited.finally(() => clearTimeout(limit));
    },
  };
}

describe("crash safety", () => {
  it(`keeps every acked batch exactly once across ${KILLS} SIGKILLs at random points`, async () => {
    const acked = new Set<number>();
    let next = spawnFixture();
    for (let k = 0; k < KILLS; k++) {
      const current = next;
      await current.loaded;
      // The next child loads while this one runs; it starts only after this one is dead.
      if (k + 1 < KILLS) next = spawnFixture();
      // Restart a little before the highest ack, so some batches are resent (they must count as duplicates).
      const first = Math.max(0, Math.max(-1, ...acked) - 3);
      const kill: KillPoint =
        k % 4 === 0
          ? { after: "ready", delayMs: Math.floor(Math.random() * EARLY_KILL_MAX_MS) }
          : { after: "first-ack", delayMs: Math.floor(Math.random() * LATE_KILL_MAX_MS) };
      for (const t of await current.run(first, kill)) acked.add(t);
    }
    expect(acked.size).toBeGreaterThan(10);

    for (const name of readdirSync(samplesDir(dir)).filter((n) => n.endsWith(".db"))) {
      const db = new Database(join(samplesDir(dir), name), { readonly: true });
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      db.close();
    }
    const onDisk = readdirSync(samplesDir(dir))
      .filter((n) => n.endsWith(".db"))
      .flatMap((n) => readDayFileSamples(join(samplesDir(dir), n)));
    const keys = onDisk.map((s) => `${s.seriesId}:${s.ts}`);
    expect(new Set(keys).size).toBe(keys.length);

    const catalog = Catalog.open(dir);
    const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
    try {
      const maxTick = Math.max(...acked);
      const got = await engine.queryRange({
        agentId: "crash-agent",
        metric: "crash_metric",
        matchers: [],
        fromMs: CRASH_T0,
        toMs: CRASH_T0 + (maxTick + 100) * CRASH_INTERVAL_MS,
      });
      expect(got).toHaveLength(CRASH_SERIES);
      // Tens of thousands of points per series: collect what is wrong, then assert once.
      const wrong: string[] = [];
      for (const s of got) {
        const id = Number(s.labels.s);
        const byTs = new Map(s.points.map(([ts, v]) => [ts, v]));
        if (byTs.size !== s.points.length) wrong.push(`series ${id}: a timestamp twice`);
        for (const t of acked) {
          const v = byTs.get(CRASH_T0 + t * CRASH_INTERVAL_MS);
          if (v !== crashValue(id, t)) wrong.push(`series ${id}, acked tick ${t}: ${v}`);
        }
        for (const [ts, v] of byTs) {
          const t = (ts - CRASH_T0) / CRASH_INTERVAL_MS;
          if (v !== crashValue(id, t)) wrong.push(`series ${id}, tick ${t}: ${v}, not ${crashValue(id, t)}`);
        }
      }
      expect(wrong.slice(0, 20)).toEqual([]);
    } finally {
      await engine.close();
      catalog.close();
    }
  }, 120_000);
});
