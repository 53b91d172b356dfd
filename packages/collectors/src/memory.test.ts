import fs from "node:fs";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import { createMemoryCollector, MEMORY_METRICS, parseMeminfo } from "./memory.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const NOW = 1_764_040_000_000;
const KIB = 1024;

function context(proc: ProcFs, logger = captureLogger().logger): CollectContext {
  return { now: NOW, proc, sys: proc, logger };
}

/** metric → value; fails on a repeated metric (memory samples carry no labels). */
function byMetric(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    expect(out[s.metric], `${s.metric} twice`).toBeUndefined();
    expect(s.labels).toEqual({});
    expect(s.ts).toBe(NOW);
    out[s.metric] = s.value;
  }
  return out;
}

describe("parseMeminfo", () => {
  it("reads this machine's recorded meminfo: keys as the kernel writes them, kB as bytes", () => {
    const { values, issues } = parseMeminfo(
      fs.readFileSync(`${fixtureProcRoot("this-machine", "t0")}/meminfo`, "utf8"),
    );
    expect(issues).toEqual([]);
    expect(values.size).toBe(53);
    expect(values.get("MemTotal")).toBe(24683620 * 1024);
    expect(values.get("MemAvailable")).toBe(24363912 * 1024);
    expect(values.get("Active(anon)")).toBe(1528 * 1024);
    expect(values.get("VmallocTotal")).toBe(34359738367 * 1024);
    expect(values.get("HugePages_Total")).toBe(0); // a page count, no unit: not multiplied
    expect(values.get("SwapTotal")).toBe(0);
  });

  it("keeps unit-less values as they are", () => {
    expect(parseMeminfo("HugePages_Free:       7\n").values.get("HugePages_Free")).toBe(7);
  });

  it("drops a truncated last line with one issue", () => {
    const { values, issues } = parseMeminfo(
      fs.readFileSync(`${fixtureProcRoot("truncated")}/meminfo`, "utf8"),
    );
    expect([...values.keys()]).toEqual(["MemTotal", "MemFree", "MemAvailable", "Buffers"]);
    expect(issues).toEqual([
      { line: 5, text: "Cached:           2488", reason: "file ends mid-line (truncated read)" },
    ]);
  });

  it("skips malformed lines, one issue each, and keeps the first of a repeated key", () => {
    const { values, issues } = parseMeminfo(
      [
        "MemTotal:  100 kB",
        "MemFree 50 kB", // no colon
        "Buffers:  x kB", // not a number
        "Cached:   10 MB", // unknown unit
        "Shmem:    1 kB extra",
        "MemTotal:  999 kB",
        ": 5",
        "",
        "Dirty:    2 kB",
        "",
      ].join("\n"),
    );
    expect(Object.fromEntries(values)).toEqual({ MemTotal: 100 * KIB, Dirty: 2 * KIB });
    expect(issues.map((i) => i.line)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('keeps "__proto__" an ordinary key', () => {
    expect(parseMeminfo("__proto__: 1 kB\n").values.get("__proto__")).toBe(1024);
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseMeminfo(text)));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        (bytes) => void parseMeminfo(Buffer.from(bytes).toString()),
      ),
    );
    fc.assert(fc.property(meminfoLikeText(), (text) => void parseMeminfo(text)));
  });
});

function meminfoLikeText(): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(
      "MemTotal",
      "MemAvailable",
      "MemFree",
      "Buffers",
      "Cached",
      "SwapTotal",
      "SwapFree",
      "__proto__",
    ),
    fc.string({ maxLength: 6 }),
  );
  const value = fc.oneof(
    fc.nat().map(String),
    fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
    fc.string({ maxLength: 3 }),
  );
  const unit = fc.constantFrom("", " kB", " MB", " kB kB");
  const line = fc
    .tuple(key, fc.constantFrom(":", ": ", ":      ", " "), value, unit)
    .map((parts) => parts.join(""));
  return fc.array(line, { maxLength: 12 }).map((lines) => lines.join("\n"));
}

describe("memory collector", () => {
  it("reports this machine's memory from its recorded meminfo", async () => {
    const samples = await createMemoryCollector().collect(
      context(new ProcFs(fixtureProcRoot("this-machine", "t0"))),
    );
    // MemTotal 24683620 kB, MemFree 24312728 kB, MemAvailable 24363912 kB, Buffers 2268 kB, Cached 248884 kB,
    // SwapTotal 0 kB, SwapFree 0 kB
    expect(byMetric(samples)).toEqual({
      memory_total_bytes: 24683620 * KIB,
      memory_available_bytes: 24363912 * KIB,
      memory_used_bytes: (24683620 - 24363912) * KIB,
      memory_used_percent: (100 * (24683620 - 24363912)) / 24683620,
      memory_free_bytes: 24312728 * KIB,
      memory_buffers_bytes: 2268 * KIB,
      memory_cached_bytes: 248884 * KIB,
      swap_total_bytes: 0,
      swap_used_bytes: 0,
      // swap_used_percent: omitted, there is no swap
    });
  });

  it("emits only the names it declares", async () => {
    const samples = await createMemoryCollector().collect(context(new ProcFs(fixtureProcRoot("old-kernel"))));
    const declared = new Set(MEMORY_METRICS.map((m) => m.name));
    expect(samples.filter((s) => !declared.has(s.metric))).toEqual([]);
    expect(samples).toHaveLength(MEMORY_METRICS.length); // old-kernel has swap, so every metric is there
  });

  it("falls back to MemFree + Buffers + Cached on a kernel without MemAvailable, warning once", async () => {
    const log = captureLogger();
    const proc = new ProcFs(fixtureProcRoot("old-kernel"));
    const memory = createMemoryCollector();
    const samples = await memory.collect(context(proc, log.logger));
    await memory.collect(context(proc, log.logger));
    // MemTotal 3924700 kB; MemFree 512344 + Buffers 204812 + Cached 1843620 = 2560776 kB
    // SwapTotal 2097144 kB, SwapFree 1835000 kB: 262144 kB used
    expect(byMetric(samples)).toEqual({
      memory_total_bytes: 3924700 * KIB,
      memory_available_bytes: 2560776 * KIB,
      memory_used_bytes: (3924700 - 2560776) * KIB,
      memory_used_percent: (100 * (3924700 - 2560776)) / 3924700,
      memory_free_bytes: 512344 * KIB,
      memory_buffers_bytes: 204812 * KIB,
      memory_cached_bytes: 1843620 * KIB,
      swap_total_bytes: 2097144 * KIB,
      swap_used_bytes: 262144 * KIB,
      swap_used_percent: (100 * 262144) / 2097144,
    });
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("meminfo"));
    expect(log.warnings()[0]?.msg).toMatch(/no MemAvailable.*upgrade the kernel/);
  });

  it("uses the complete lines of a truncated file, without guessing MemAvailable, and warns once", async () => {
    const log = captureLogger();
    const proc = new ProcFs(fixtureProcRoot("truncated"));
    const samples = await createMemoryCollector().collect(context(proc, log.logger));
    // this-machine/t1 cut inside Cached: MemTotal 24683620, MemFree 24312728, MemAvailable 24363916, Buffers 2268 kB
    expect(byMetric(samples)).toEqual({
      memory_total_bytes: 24683620 * KIB,
      memory_available_bytes: 24363916 * KIB,
      memory_used_bytes: (24683620 - 24363916) * KIB,
      memory_used_percent: (100 * (24683620 - 24363916)) / 24683620,
      memory_free_bytes: 24312728 * KIB,
      memory_buffers_bytes: 2268 * KIB,
    });
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("meminfo"));
    expect(log.warnings()[0]?.msg).toContain("truncated");
  });

  it("gives no estimate when MemAvailable is lost to truncation rather than absent", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({
      meminfo: "MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 1 kB\nCached: 2 kB\nSwapTotal: 0",
    });
    const metrics = Object.keys(byMetric(await createMemoryCollector().collect(context(proc, log.logger))));
    expect(metrics).toEqual([
      "memory_total_bytes",
      "memory_free_bytes",
      "memory_buffers_bytes",
      "memory_cached_bytes",
    ]);
    expect(log.warnings()).toHaveLength(1);
  });

  it("reports swap use and its percentage", async () => {
    const proc = new StubProcFs({
      meminfo: "MemTotal: 100 kB\nMemAvailable: 40 kB\nSwapTotal: 200 kB\nSwapFree: 150 kB\n",
    });
    const values = byMetric(await createMemoryCollector().collect(context(proc)));
    expect(values.memory_used_bytes).toBe(60 * KIB);
    expect(values.memory_used_percent).toBe(60);
    expect(values.swap_used_bytes).toBe(50 * KIB);
    expect(values.swap_used_percent).toBe(25);
  });

  it("never reports negative use when MemAvailable exceeds MemTotal (some container emulations)", async () => {
    const proc = new StubProcFs({ meminfo: "MemTotal: 100 kB\nMemAvailable: 120 kB\n" });
    const values = byMetric(await createMemoryCollector().collect(context(proc)));
    expect(values.memory_used_bytes).toBe(0);
    expect(values.memory_used_percent).toBe(0);
  });

  it("warns once, naming the file and the fix, when meminfo is missing or unreadable", async () => {
    for (const code of ["ENOENT", "EACCES"]) {
      const log = captureLogger();
      const proc = new StubProcFs({ meminfo: { error: code } });
      const memory = createMemoryCollector();
      expect(await memory.collect(context(proc, log.logger))).toEqual([]);
      expect(await memory.collect(context(proc, log.logger))).toEqual([]);
      expect(log.warnings()).toHaveLength(1);
      expect(log.warnings()[0]?.msg).toContain(`cannot read ${proc.pathOf("meminfo")} (${code})`);
      expect(log.warnings()[0]?.msg).toMatch(code === "EACCES" ? /user allowed to read it/ : /procfs root/);
    }
  });

  it("warns once when the file is not meminfo at all", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ meminfo: "cpu  1 2 3 4\n" });
    expect(await createMemoryCollector().collect(context(proc, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
  });

  it("never throws and never reports a negative or non-finite value, whatever the file says", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(meminfoLikeText(), fc.string()), async (text) => {
        const samples = await createMemoryCollector().collect(
          context(new StubProcFs({ meminfo: text }), captureLogger().logger),
        );
        for (const s of samples) {
          expect(Number.isFinite(s.value)).toBe(true);
          expect(s.value).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
