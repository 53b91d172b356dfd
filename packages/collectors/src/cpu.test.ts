import fs from "node:fs";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import { CPU_METRICS, createCpuCollector, parseProcStat } from "./cpu.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
const T1 = T0 + 1_000;

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

function fixture(...scenario: string[]): ProcFs {
  return new ProcFs(fixtureProcRoot(...scenario));
}

/** `value` of the one sample with that metric and label, failing when there is not exactly one. */
function sampleValue(
  samples: readonly Sample[],
  metric: string,
  labels: Record<string, string> = {},
): number {
  const found = samples.filter(
    (s) => s.metric === metric && JSON.stringify(s.labels) === JSON.stringify(labels),
  );
  expect(found, `${metric}${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]?.value ?? Number.NaN;
}

function seriesOf(samples: readonly Sample[]): string[] {
  return samples.map((s) => `${s.metric}${JSON.stringify(s.labels)}`);
}

describe("parseProcStat", () => {
  it("reads this machine's recorded stat file", () => {
    const stat = parseProcStat(fs.readFileSync(`${fixtureProcRoot("this-machine", "t0")}/stat`, "utf8"));
    // cpu  22129 0 5219 108331 207 0 276 0 0 0
    expect(stat.total).toEqual({
      user: 22129,
      nice: 0,
      system: 5219,
      idle: 108331,
      iowait: 207,
      irq: 0,
      softirq: 276,
      steal: 0,
      guest: 0,
      guestNice: 0,
    });
    expect([...stat.cpus.keys()]).toEqual([0, 1]);
    // cpu1 17748 0 3042 47022 177 0 112 0 0 0
    expect(stat.cpus.get(1)).toMatchObject({
      user: 17748,
      system: 3042,
      idle: 47022,
      iowait: 177,
      softirq: 112,
    });
    expect(stat.interrupts).toBe(279613);
    expect(stat.contextSwitches).toBe(489318);
    expect(stat.bootTimeSeconds).toBe(1795574275);
    expect(stat.processesForked).toBe(4849);
    expect(stat.procsRunning).toBe(2);
    expect(stat.procsBlocked).toBe(0);
    expect(stat.issues).toEqual([]);
  });

  it("leaves guest_nice undefined on a 2.6.32 kernel's 9 columns", () => {
    const stat = parseProcStat(fs.readFileSync(`${fixtureProcRoot("old-kernel")}/stat`, "utf8"));
    expect(stat.total?.guest).toBe(34000);
    expect(stat.total?.guestNice).toBeUndefined();
    expect(stat.cpus.size).toBe(4);
    expect(stat.bootTimeSeconds).toBe(1388563200);
    expect(stat.issues).toEqual([]);
  });

  it("leaves the columns a 2.4 kernel does not print undefined, not 0", () => {
    const stat = parseProcStat("cpu  10 20 30 40\ncpu0 10 20 30 40\n");
    expect(stat.cpus.get(0)).toEqual({
      user: 10,
      nice: 20,
      system: 30,
      idle: 40,
      iowait: undefined,
      irq: undefined,
      softirq: undefined,
      steal: undefined,
      guest: undefined,
      guestNice: undefined,
    });
    expect(stat.contextSwitches).toBeUndefined();
  });

  it("ignores lines it does not know without calling them issues", () => {
    const stat = parseProcStat("cpu  1 2 3 4\npage 5 6\nswap 0 0\ncpufreq 7\nfuture_line\n\nctxt 9\n");
    expect(stat.total?.user).toBe(1);
    expect(stat.cpus.size).toBe(0);
    expect(stat.contextSwitches).toBe(9);
    expect(stat.issues).toEqual([]);
  });

  it("keeps CPU indexes as printed when offline CPUs leave holes", () => {
    expect([...parseProcStat("cpu  2 0 2 2\ncpu0 1 0 1 1\ncpu3 1 0 1 1\n").cpus.keys()]).toEqual([0, 3]);
  });

  it("drops a truncated last line with one issue and keeps the rest", () => {
    const stat = parseProcStat(fs.readFileSync(`${fixtureProcRoot("truncated")}/stat`, "utf8"));
    expect(stat.total?.user).toBe(22232);
    expect([...stat.cpus.keys()]).toEqual([0]);
    expect(stat.issues).toEqual([
      { line: 3, text: "cpu1 17850 0 30", reason: "file ends mid-line (truncated read)" },
    ]);
  });

  it("skips malformed cpu and counter lines, one issue each", () => {
    const stat = parseProcStat(
      [
        "cpu  4 0 4 4 0 0 0 0 0 0",
        "cpu0 1 x 1 1 0 0 0 0 0 0", // not a number
        "cpu1 1 0 1", // too few for any kernel
        "cpu2 1 0 1 1 0 0", // fewer columns than the cpu line: cut short
        "cpu3 2 0 2 2 0 0 0 0 0 0",
        "cpu3 9 9 9 9 9 9 9 9 9 9", // a second cpu3
        "ctxt many",
        "",
      ].join("\n"),
    );
    expect([...stat.cpus.keys()]).toEqual([3]);
    expect(stat.cpus.get(3)?.user).toBe(2);
    expect(stat.contextSwitches).toBeUndefined();
    expect(stat.issues.map((i) => i.line)).toEqual([2, 3, 4, 6, 7]);
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseProcStat(text)));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        (bytes) => void parseProcStat(Buffer.from(bytes).toString()),
      ),
    );
    fc.assert(fc.property(statLikeText(), (text) => void parseProcStat(text)));
  });
});

/** Text built from stat-like tokens, so the properties reach past the first character check. */
function statLikeText(): fc.Arbitrary<string> {
  const token = fc.oneof(
    fc.constantFrom(
      "cpu",
      "cpu0",
      "cpu1",
      "cpu99999999999999999999",
      "intr",
      "ctxt",
      "btime",
      "processes",
      "-1",
      "1e3",
    ),
    fc.nat().map(String),
    fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
    fc.string({ maxLength: 4 }),
  );
  const line = fc.array(token, { maxLength: 14 }).map((tokens) => tokens.join(" "));
  return fc.array(line, { maxLength: 12 }).map((lines) => lines.join("\n"));
}

describe("cpu collector on this machine's two recorded readings", () => {
  // t0: cpu  22129 0 5219 108331 207 0 276 0 0 0     t1: cpu  22232 0 5222 108430 207 0 277 0 0 0
  //     cpu0 4381 0 2176 61309 29 0 164 0 0 0            cpu0 4382 0 2179 61408 29 0 164 0 0 0
  //     cpu1 17748 0 3042 47022 177 0 112 0 0 0          cpu1 17850 0 3042 47022 177 0 113 0 0 0
  // total deltas: user 103, nice 0, system 3, idle 99, iowait 0, irq 0, softirq 1, steal 0 = 206 ticks
  // cpu0 deltas:  user 1, system 3, idle 99, the rest 0 = 103 ticks
  // cpu1 deltas:  user 102, softirq 1, the rest 0 = 103 ticks (busy-looping the whole second)
  it("emits nothing for the first reading, then the exact percentages between the two", async () => {
    const cpu = createCpuCollector();
    expect(await cpu.collect(context(fixture("this-machine", "t0"), T0))).toEqual([]);
    const samples = await cpu.collect(context(fixture("this-machine", "t1"), T1));

    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "total" })).toBeCloseTo(
      100 * (1 - (99 + 0) / 206),
      12,
    );
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "0" })).toBeCloseTo(
      100 * (1 - (99 + 0) / 103),
      12,
    );
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "1" })).toBe(100);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "user" })).toBe(50);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "nice" })).toBe(0);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "system" })).toBeCloseTo((100 * 3) / 206, 12);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "idle" })).toBeCloseTo((100 * 99) / 206, 12);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "iowait" })).toBe(0);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "irq" })).toBe(0);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "softirq" })).toBeCloseTo((100 * 1) / 206, 12);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "steal" })).toBe(0);
    expect(sampleValue(samples, "cpu_count")).toBe(2);
    expect(samples).toHaveLength(3 + 8 + 1);
    expect(samples.every((s) => s.ts === T1)).toBe(true);
  });

  it("emits only the names and labels it declares", async () => {
    const cpu = createCpuCollector();
    await cpu.collect(context(fixture("this-machine", "t0"), T0));
    for (const s of await cpu.collect(context(fixture("this-machine", "t1"), T1))) {
      const declared = CPU_METRICS.find((m) => m.name === s.metric);
      expect(declared, s.metric).toBeDefined();
      expect(Object.keys(s.labels)).toEqual(declared?.labels);
    }
  });

  it("emits no percentage for a reading identical to the previous one (no tick passed)", async () => {
    const cpu = createCpuCollector();
    await cpu.collect(context(fixture("this-machine", "t0"), T0));
    const samples = await cpu.collect(context(fixture("this-machine", "t0"), T1));
    expect(seriesOf(samples)).toEqual(["cpu_count{}"]);
  });

  it("emits nothing when the counters go backwards, and re-bases on that reading", async () => {
    const cpu = createCpuCollector();
    await cpu.collect(context(fixture("this-machine", "t1"), T0));
    expect(seriesOf(await cpu.collect(context(fixture("this-machine", "t0"), T1)))).toEqual(["cpu_count{}"]);
    const samples = await cpu.collect(context(fixture("this-machine", "t1"), T1 + 1_000));
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "total" })).toBeCloseTo(100 * (1 - 99 / 206), 12);
  });
});

describe("cpu collector edge cases", () => {
  it("skips only the CPU whose counters reset (hot-plugged)", async () => {
    const proc = new StubProcFs({ stat: "cpu  200 0 0 200\ncpu0 100 0 0 100\ncpu1 100 0 0 100\n" });
    const cpu = createCpuCollector();
    await cpu.collect(context(proc, T0));
    // cpu0: +30 user, +70 idle. cpu1 came back with fresh counters. The total line also went back.
    proc.set("stat", "cpu  135 0 0 175\ncpu0 130 0 0 170\ncpu1 5 0 0 5\n");
    const samples = await cpu.collect(context(proc, T1));
    expect(seriesOf(samples)).toEqual(['cpu_usage_percent{"cpu":"0"}', "cpu_count{}"]);
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "0" })).toBeCloseTo(100 * (1 - 70 / 100), 12);
    // Next tick every key has a base again. cpu1: +10 user, +10 idle.
    proc.set("stat", "cpu  155 0 0 195\ncpu0 140 0 0 180\ncpu1 15 0 0 15\n");
    const next = await cpu.collect(context(proc, T1 + 1_000));
    expect(sampleValue(next, "cpu_usage_percent", { cpu: "1" })).toBe(50);
    expect(sampleValue(next, "cpu_usage_percent", { cpu: "total" })).toBe(50);
  });

  it("skips a CPU for a tick when one of its counters goes backwards while the others advance", async () => {
    const proc = new StubProcFs({ stat: "cpu  10 0 10 100 50 0 0 0\ncpu0 10 0 10 100 50 0 0 0\n" });
    const cpu = createCpuCollector();
    await cpu.collect(context(proc, T0));
    // iowait 50 → 49 (the kernel documents it may decrease); user +10, idle +10.
    proc.set("stat", "cpu  20 0 10 110 49 0 0 0\ncpu0 20 0 10 110 49 0 0 0\n");
    expect(seriesOf(await cpu.collect(context(proc, T1)))).toEqual(["cpu_count{}"]);
    // Re-based on the reading with iowait 49: user +5, idle +5, iowait +0 → 50% busy.
    proc.set("stat", "cpu  25 0 10 115 49 0 0 0\ncpu0 25 0 10 115 49 0 0 0\n");
    const samples = await cpu.collect(context(proc, T1 + 1_000));
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "total" })).toBe(50);
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "0" })).toBe(50);
  });

  it("starts a CPU over after it was offline for a reading", async () => {
    const proc = new StubProcFs({ stat: "cpu  2 0 0 2\ncpu0 1 0 0 1\ncpu1 1 0 0 1\n" });
    const cpu = createCpuCollector();
    await cpu.collect(context(proc, T0));
    proc.set("stat", "cpu  3 0 0 3\ncpu0 2 0 0 2\n");
    expect(sampleValue(await cpu.collect(context(proc, T1)), "cpu_count")).toBe(1);
    proc.set("stat", "cpu  100 0 0 100\ncpu0 3 0 0 3\ncpu1 90 0 0 10\n");
    const samples = await cpu.collect(context(proc, T1 + 1_000));
    expect(seriesOf(samples)).not.toContain('cpu_usage_percent{"cpu":"1"}');
  });

  it("does not count guest time twice (it is inside user and nice)", async () => {
    // 2.6.32 columns: user nice system idle iowait irq softirq steal guest
    const proc = new StubProcFs({ stat: "cpu  100 0 50 800 10 0 0 0 40\n" });
    const cpu = createCpuCollector();
    await cpu.collect(context(proc, T0));
    // user +60 (of which guest +60), system +10, idle +70: 140 ticks, not 200.
    proc.set("stat", "cpu  160 0 60 870 10 0 0 0 100\n");
    const samples = await cpu.collect(context(proc, T1));
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "total" })).toBe(50);
    expect(sampleValue(samples, "cpu_mode_percent", { mode: "user" })).toBeCloseTo((100 * 60) / 140, 12);
  });

  it("emits no mode a 2.4 kernel does not report", async () => {
    const proc = new StubProcFs({ stat: "cpu  10 0 10 80\n" });
    const cpu = createCpuCollector();
    await cpu.collect(context(proc, T0));
    proc.set("stat", "cpu  20 5 15 100\n"); // +10 user, +5 nice, +5 system, +20 idle = 40 ticks
    const samples = await cpu.collect(context(proc, T1));
    expect(seriesOf(samples).filter((s) => s.startsWith("cpu_mode"))).toEqual([
      'cpu_mode_percent{"mode":"user"}',
      'cpu_mode_percent{"mode":"nice"}',
      'cpu_mode_percent{"mode":"system"}',
      'cpu_mode_percent{"mode":"idle"}',
    ]);
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "total" })).toBe(50);
  });
});

describe("cpu collector tolerance", () => {
  it("warns once, naming the file, when stat is missing, and again only after it recovered", async () => {
    const proc = new StubProcFs({});
    const log = captureLogger();
    const cpu = createCpuCollector();
    expect(await cpu.collect(context(proc, T0, log.logger))).toEqual([]);
    expect(await cpu.collect(context(proc, T1, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("stat"));
    expect(log.warnings()[0]?.msg).toContain("ENOENT");
    expect(log.warnings()[0]?.msg).toContain("procfs root");

    proc.set("stat", "cpu  1 0 1 1\n");
    await cpu.collect(context(proc, T1 + 1_000, log.logger));
    proc.set("stat", { error: "ENOENT" });
    await cpu.collect(context(proc, T1 + 2_000, log.logger));
    expect(log.warnings()).toHaveLength(2);
  });

  it("warns once, with the fix, on a permission error", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ stat: { error: "EACCES" } });
    expect(await createCpuCollector().collect(context(proc, T0, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toMatch(/EACCES.*user allowed to read it/);
  });

  it("uses the complete lines of a truncated file and warns once", async () => {
    const log = captureLogger();
    const cpu = createCpuCollector();
    await cpu.collect(context(fixture("this-machine", "t0"), T0, log.logger));
    const truncated = fixture("truncated"); // this-machine/t1 cut inside the cpu1 line
    const samples = await cpu.collect(context(truncated, T1, log.logger));
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "total" })).toBeCloseTo(100 * (1 - 99 / 206), 12);
    expect(sampleValue(samples, "cpu_usage_percent", { cpu: "0" })).toBeCloseTo(100 * (1 - 99 / 103), 12);
    expect(seriesOf(samples)).not.toContain('cpu_usage_percent{"cpu":"1"}');
    expect(seriesOf(samples)).not.toContain("cpu_count{}"); // a cut file under-counts CPUs
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(truncated.pathOf("stat"));
    expect(log.warnings()[0]?.msg).toContain("truncated");
  });

  it("warns once when the file has no cpu lines at all", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ stat: "hello\n" });
    expect(await createCpuCollector().collect(context(proc, T0, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("no cpu lines");
  });

  it("never throws and keeps every percentage within 0..100, whatever the files say", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(statLikeText(), fc.string()), { minLength: 1, maxLength: 5 }),
        async (texts) => {
          const proc = new StubProcFs({});
          const cpu = createCpuCollector();
          const { logger } = captureLogger();
          for (const [i, text] of texts.entries()) {
            proc.set("stat", text);
            for (const s of await cpu.collect(context(proc, T0 + i, logger))) {
              if (s.metric !== "cpu_count") expect(s.value).toBeGreaterThanOrEqual(0);
              if (s.metric !== "cpu_count") expect(s.value).toBeLessThanOrEqual(100);
            }
          }
        },
      ),
    );
  });

  it("splits the total's ticks into modes that add up to 100%", async () => {
    const ticks = fc.array(fc.nat({ max: 1_000_000 }), { minLength: 8, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(ticks, ticks, async (base, step) => {
        fc.pre(step.some((d) => d > 0));
        const proc = new StubProcFs({ stat: `cpu  ${base.join(" ")}\n` });
        const cpu = createCpuCollector();
        await cpu.collect(context(proc, T0));
        proc.set("stat", `cpu  ${base.map((b, i) => b + (step[i] ?? 0)).join(" ")}\n`);
        const modes = (await cpu.collect(context(proc, T1))).filter((s) => s.metric === "cpu_mode_percent");
        expect(modes).toHaveLength(8);
        expect(modes.reduce((sum, s) => sum + s.value, 0)).toBeCloseTo(100, 9);
      }),
    );
  });
});
