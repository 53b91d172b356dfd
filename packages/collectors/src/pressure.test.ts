import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import { createPressureCollector, parsePressure } from "./pressure.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
/** The two recordings are 1.21 s apart (their uptime files say 3290.91 and 3292.12). */
const T1 = T0 + 1_210;
const INFO = 30;

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

function sampleValue(
  samples: readonly Sample[],
  metric: string,
  resource: string,
  kind: string,
): number | undefined {
  const found = samples.filter(
    (s) => s.metric === metric && s.labels.resource === resource && s.labels.kind === kind,
  );
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

describe("parsePressure", () => {
  it("reads both lines of this machine's io file", () => {
    const proc = new ProcFs(fixtureProcRoot("this-machine", "t0"));
    expect(parsePressure(proc.read("pressure/io"))).toEqual({
      some: { avg10: 0.05, avg60: 0.02, avg300: 0.31, totalUs: 92545266 },
      full: { avg10: 0.05, avg60: 0.02, avg300: 0.24, totalUs: 80696305 },
      issues: [],
    });
  });

  it("leaves full undefined for a cpu file from before Linux 5.13", () => {
    const pressure = parsePressure("some avg10=1.00 avg60=2.00 avg300=3.00 total=12345\n");
    expect(pressure.some?.totalUs).toBe(12345);
    expect(pressure.full).toBeUndefined();
    expect(pressure.issues).toEqual([]);
  });

  it("skips a malformed or truncated line with an issue and unknown lines silently", () => {
    const pressure = parsePressure(
      "some avg10=x avg60=1 avg300=1 total=1\nfuture avg10=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 tot",
    );
    expect(pressure.some).toBeUndefined();
    expect(pressure.full).toBeUndefined();
    expect(pressure.issues.map((i) => i.line)).toEqual([3, 1]);
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.string(), (text) => void parsePressure(text)));
    const pair = fc.tuple(
      fc.constantFrom("avg10", "avg60", "avg300", "total", "x"),
      fc.string({ maxLength: 6 }),
    );
    const line = fc.tuple(fc.constantFrom("some", "full", ""), fc.array(pair, { maxLength: 5 }));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 4 }), (lines) => {
        void parsePressure(
          lines.map(([k, ps]) => [k, ...ps.map(([a, b]) => `${a}=${b}`)].join(" ")).join("\n"),
        );
      }),
    );
  });
});

describe("pressure collector on this machine's two recorded readings", () => {
  // cpu    some total 409113176 → 409116554: 3378 µs stalled in 1.21 s; full all zero
  // io     some 92545266 → 92545266, full 80696305 → 80696305: no change
  // memory all zero
  it("emits avg10 for each line at once and stall seconds per second from the second reading", async () => {
    const pressure = createPressureCollector();
    const first = await pressure.collect(context(new ProcFs(fixtureProcRoot("this-machine", "t0")), T0));
    expect(first.map((s) => s.metric)).toEqual(Array(6).fill("pressure_stall_percent"));
    const samples = await pressure.collect(context(new ProcFs(fixtureProcRoot("this-machine", "t1")), T1));
    expect(samples).toHaveLength(12);
    expect(sampleValue(samples, "pressure_stall_percent", "cpu", "some")).toBe(0.69);
    expect(sampleValue(samples, "pressure_stall_percent", "io", "full")).toBe(0.05);
    expect(sampleValue(samples, "pressure_stall_seconds_per_second", "cpu", "some")).toBeCloseTo(
      3378e-6 / 1.21,
      15,
    );
    expect(sampleValue(samples, "pressure_stall_seconds_per_second", "cpu", "full")).toBe(0);
    expect(sampleValue(samples, "pressure_stall_seconds_per_second", "io", "some")).toBe(0);
    expect(sampleValue(samples, "pressure_stall_seconds_per_second", "memory", "full")).toBe(0);
    expect(samples.every((s) => s.ts === T1)).toBe(true);
  });

  it("emits nothing without PSI (the container scenario) and logs one info line, no warning", async () => {
    const proc = new ProcFs(fixtureProcRoot("container"));
    const log = captureLogger();
    const pressure = createPressureCollector();
    for (const now of [T0, T1, T1 + 1_000])
      expect(await pressure.collect(context(proc, now, log.logger))).toEqual([]);
    expect(log.warnings()).toEqual([]);
    expect(log.lines.filter((l) => l.level === INFO)).toHaveLength(1);
    expect(log.lines.find((l) => l.level === INFO)?.msg).toContain("pressure stall information");
  });

  it("treats PSI booted off (EOPNOTSUPP on every file) as absent too", async () => {
    const err = { error: "EOPNOTSUPP" };
    const log = captureLogger();
    const proc = new StubProcFs({ "pressure/cpu": err, "pressure/memory": err, "pressure/io": err });
    expect(await createPressureCollector().collect(context(proc, T0, log.logger))).toEqual([]);
    expect(log.warnings()).toEqual([]);
  });
});

describe("pressure collector tolerance", () => {
  it("warns once when only one file is unreadable, and keeps the others", async () => {
    const line = "some avg10=1.00 avg60=0.00 avg300=0.00 total=5\n";
    const proc = new StubProcFs({
      "pressure/cpu": line,
      "pressure/memory": { error: "EACCES" },
      "pressure/io": line,
    });
    const log = captureLogger();
    const pressure = createPressureCollector();
    for (const now of [T0, T1]) {
      const samples = await pressure.collect(context(proc, now, log.logger));
      expect(
        samples.filter((s) => s.metric === "pressure_stall_percent").map((s) => s.labels.resource),
      ).toEqual(["cpu", "io"]);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("pressure/memory"));
  });

  it("gives no rate across a counter that went back", async () => {
    const proc = new StubProcFs({ "pressure/cpu": "some avg10=0.00 avg60=0.00 avg300=0.00 total=900\n" });
    const pressure = createPressureCollector();
    await pressure.collect(context(proc, T0));
    proc.set("pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=100\n");
    const samples = await pressure.collect(context(proc, T1));
    expect(samples.map((s) => s.metric)).toEqual(["pressure_stall_percent"]);
  });

  it("never throws, whatever the files say", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), async (a, b) => {
        const proc = new StubProcFs({ "pressure/cpu": a, "pressure/io": b });
        const pressure = createPressureCollector();
        await pressure.collect(context(proc, T0));
        for (const s of await pressure.collect(context(proc, T1)))
          expect(Number.isFinite(s.value)).toBe(true);
      }),
    );
  });
});
