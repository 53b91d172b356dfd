import { copyFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  cleanupAfterEach,
  enrolledAgentConfig,
  eventually,
  FIXTURES,
  type Proc,
  readStoredSamples,
  startFixtureServer,
  startNode,
} from "./harness.js";

const KIB = 1024;

describe("from a recorded /proc tree to the day file", () => {
  const cleanups = cleanupAfterEach();

  it("stores exactly the values the agent computes from two consecutive real readings", async () => {
    const { proc, server, dir } = await startFixtureServer(cleanups);
    const config = await enrolledAgentConfig(server, dir, {
      agentId: "fixture-1",
      procfs: proc,
      extra: `[stream]\nflush_interval = "100ms"\n\n[collectors.cpu]\ninterval = "200ms"\n\n[collectors.memory]\ninterval = "200ms"\n`,
    });
    const agent: Proc = startNode(AGENT_BIN, ["--config", config]);
    cleanups.push(() => agent.stop());

    // The agent has read t0 once its memory samples are stored; then swap in t1 as the kernel would
    // present new contents (atomically, by rename).
    await eventually(
      () => readStoredSamples(server.dataDir, "fixture-1", "memory_total_bytes").length > 0,
      20_000,
      "t0 samples",
    );
    for (const file of ["stat", "meminfo"]) {
      copyFileSync(join(FIXTURES, "this-machine/t1/proc", file), join(proc, `${file}.new`));
      renameSync(join(proc, `${file}.new`), join(proc, file));
    }
    const cpu = await eventually(
      () => {
        const rows = readStoredSamples(server.dataDir, "fixture-1", "cpu_usage_percent");
        return rows.length >= 3 ? rows : undefined;
      },
      20_000,
      "cpu samples",
    );

    // Jiffy deltas t0 → t1, written out from the fixture files:
    //   cpu  user 22129→22232 (+103) system 5219→5222 (+3) idle 108331→108430 (+99) softirq 276→277 (+1): total 206
    //   cpu0 user +1 system +3 idle +99: total 103;  cpu1 user +102 softirq +1: total 103, idle +0
    const byCpu = Object.fromEntries(cpu.map((s) => [s.labels.cpu, s.value]));
    expect(Object.keys(byCpu).sort()).toEqual(["0", "1", "total"]);
    expect(byCpu.total).toBeCloseTo((100 * 107) / 206, 9);
    expect(byCpu["0"]).toBeCloseTo((100 * 4) / 103, 9);
    expect(byCpu["1"]).toBeCloseTo(100, 9);
    // Only the t0 → t1 tick has a delta: the same file read twice gives no rate, so one sample per cpu.
    expect(cpu).toHaveLength(3);

    const modes = readStoredSamples(server.dataDir, "fixture-1", "cpu_mode_percent");
    const byMode = Object.fromEntries(modes.map((s) => [s.labels.mode, s.value]));
    expect(byMode.user).toBeCloseTo((100 * 103) / 206, 9);
    expect(byMode.system).toBeCloseTo((100 * 3) / 206, 9);
    expect(byMode.idle).toBeCloseTo((100 * 99) / 206, 9);
    expect(byMode.softirq).toBeCloseTo((100 * 1) / 206, 9);
    expect(byMode.iowait).toBe(0);

    const stopped = await agent.stop("SIGTERM");
    expect(stopped.code).toBe(0);
    const total = readStoredSamples(server.dataDir, "fixture-1", "memory_total_bytes");
    expect(new Set(total.map((s) => s.value))).toEqual(new Set([24_683_620 * KIB]));
    const avail = readStoredSamples(server.dataDir, "fixture-1", "memory_available_bytes");
    // MemAvailable 24363912 kB in t0, 24363916 kB in t1: both readings arrive, nothing else.
    expect(new Set(avail.map((s) => s.value))).toEqual(new Set([24_363_912 * KIB, 24_363_916 * KIB]));
    const used = readStoredSamples(server.dataDir, "fixture-1", "memory_used_bytes");
    expect(new Set(used.map((s) => s.value))).toEqual(
      new Set([(24_683_620 - 24_363_912) * KIB, (24_683_620 - 24_363_916) * KIB]),
    );
    // Every tick's samples carry the tick's aligned timestamp.
    for (const s of total) expect(s.ts % 200).toBe(0);
  });
});
