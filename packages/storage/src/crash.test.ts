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
const KILLS = 8;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-crash-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Starts the fixture from tick `first`, lets it ingest for `runMs` after it is ready, SIGKILLs it, and
 * resolves to the ticks it reported acked.
 */
function runAndKill(first: number, runMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", FIXTURE, dir, String(first)], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const acked: number[] = [];
    let buffered = "";
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") setTimeout(() => child.kill("SIGKILL"), runMs);
        else if (line.startsWith("acked ")) acked.push(Number(line.slice(6)));
      }
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`fixture exited with ${code}: ${stderr}`));
      else resolve(acked);
    });
  });
}

describe("crash safety", () => {
  it(`keeps every acked batch exactly once across ${KILLS} SIGKILLs at random points`, async () => {
    const acked = new Set<number>();
    for (let k = 0; k < KILLS; k++) {
      // Restart a little before the highest ack, so some batches are resent (they must count as duplicates).
      const first = Math.max(0, Math.max(-1, ...acked) - 3);
      for (const t of await runAndKill(first, 150 + Math.floor(Math.random() * 600))) acked.add(t);
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
      for (const s of got) {
        const id = Number(s.labels.s);
        const byTs = new Map(s.points.map(([ts, v]) => [ts, v]));
        expect(byTs.size).toBe(s.points.length);
        for (const t of acked) expect(byTs.get(CRASH_T0 + t * CRASH_INTERVAL_MS)).toBe(crashValue(id, t));
        for (const [ts, v] of byTs) expect(v).toBe(crashValue(id, (ts - CRASH_T0) / CRASH_INTERVAL_MS));
      }
    } finally {
      await engine.close();
      catalog.close();
    }
  }, 120_000);
});
