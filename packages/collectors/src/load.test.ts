import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import { createLoadCollector, LOAD_METRICS, parseLoadavg, parseUptime } from "./load.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
/** The two recordings are 1.21 s apart (their uptime files say 3290.91 and 3292.12). */
const T1 = T0 + 1_210;

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

function sampleValue(samples: readonly Sample[], metric: string): number | undefined {
  const found = samples.filter((s) => s.metric === metric);
  expect(found.length, metric).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

describe("parseLoadavg", () => {
  it("reads every field of a real line", () => {
    expect(parseLoadavg("0.33 0.95 1.26 3/95 4048\n")).toEqual({
      load1: 0.33,
      load5: 0.95,
      load15: 1.26,
      runnable: 3,
      entities: 95,
      lastPid: 4048,
      issues: [],
    });
  });

  it("reads a 64-CPU machine's loads above 10", () => {
    const proc = new ProcFs(fixtureProcRoot("many-core"));
    expect(parseLoadavg(proc.read("loadavg"))).toMatchObject({ load1: 48.12, load5: 40.03, load15: 35.5 });
  });

  it("gives one issue and no values for an empty, truncated or garbled file", () => {
    expect(parseLoadavg("").issues).toHaveLength(1);
    expect(parseLoadavg("0.33 0.9").issues[0]?.reason).toContain("truncated");
    const garbled = parseLoadavg("zero one two\n");
    expect(garbled.load1).toBeUndefined();
    expect(garbled.issues).toHaveLength(1);
  });

  it("keeps the averages when the optional fields are missing", () => {
    expect(parseLoadavg("1.00 2.00 3.00\n")).toMatchObject({ load15: 3, runnable: undefined, issues: [] });
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseLoadavg(text)));
  });
});

describe("parseUptime", () => {
  it("reads uptime and idle seconds", () => {
    expect(parseUptime("3290.91 4108.91\n")).toEqual({
      uptimeSeconds: 3290.91,
      idleSeconds: 4108.91,
      issues: [],
    });
  });

  it("gives an issue for text that is not seconds", () => {
    expect(parseUptime("soon\n").uptimeSeconds).toBeUndefined();
    expect(parseUptime("soon\n").issues).toHaveLength(1);
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseUptime(text)));
  });
});

describe("load collector on this machine's two recorded readings", () => {
  // t0: loadavg 0.33 0.95 1.26 3/95 4048, uptime 3290.91, stat ctxt 489318, procs_running 2, procs_blocked 0
  // t1: loadavg 0.33 0.95 1.26 2/95 4082, uptime 3292.12, stat ctxt 489416, procs_running 2, procs_blocked 0
  // ctxt delta 98 over 1.21 s
  it("emits gauges on the first reading and the context-switch rate from the second", async () => {
    const load = createLoadCollector();
    const log = captureLogger();
    const first = await load.collect(
      context(new ProcFs(fixtureProcRoot("this-machine", "t0")), T0, log.logger),
    );
    expect(first.map((s) => s.metric)).toEqual([
      "load1",
      "load5",
      "load15",
      "uptime_seconds",
      "processes_running",
      "processes_blocked",
    ]);
    const samples = await load.collect(
      context(new ProcFs(fixtureProcRoot("this-machine", "t1")), T1, log.logger),
    );
    expect(sampleValue(samples, "load1")).toBe(0.33);
    expect(sampleValue(samples, "load5")).toBe(0.95);
    expect(sampleValue(samples, "load15")).toBe(1.26);
    expect(sampleValue(samples, "uptime_seconds")).toBe(3292.12);
    expect(sampleValue(samples, "processes_running")).toBe(2);
    expect(sampleValue(samples, "processes_blocked")).toBe(0);
    expect(sampleValue(samples, "context_switches_per_second")).toBeCloseTo(98 / 1.21, 12);
    expect(samples.every((s) => s.ts === T1 && Object.keys(s.labels).length === 0)).toBe(true);
    expect(new Set(samples.map((s) => s.metric))).toEqual(new Set(LOAD_METRICS.map((m) => m.name)));
    expect(log.warnings()).toEqual([]);
  });

  it("reads the many-core and container scenarios", async () => {
    const many = await createLoadCollector().collect(context(new ProcFs(fixtureProcRoot("many-core")), T0));
    expect(sampleValue(many, "load1")).toBe(48.12);
    expect(sampleValue(many, "processes_running")).toBe(37);
    expect(sampleValue(many, "processes_blocked")).toBe(2);
    expect(sampleValue(many, "uptime_seconds")).toBe(1209600.42);
    const container = await createLoadCollector().collect(
      context(new ProcFs(fixtureProcRoot("container")), T0),
    );
    // A PID namespace still shows the host's load and uptime (no lxcfs).
    expect(sampleValue(container, "load1")).toBe(0.28);
  });

  it("gives no rate when the counter goes back (a restored snapshot), then rates again from there", async () => {
    const proc = new StubProcFs({ loadavg: "1 1 1 1/1 1\n", uptime: "1 1\n", stat: "ctxt 1000\n" });
    const load = createLoadCollector();
    await load.collect(context(proc, T0));
    proc.set("stat", "ctxt 10\n");
    expect(
      sampleValue(await load.collect(context(proc, T0 + 1_000)), "context_switches_per_second"),
    ).toBeUndefined();
    proc.set("stat", "ctxt 510\n");
    expect(sampleValue(await load.collect(context(proc, T0 + 3_000)), "context_switches_per_second")).toBe(
      250,
    );
  });
});

describe("load collector tolerance", () => {
  it("keeps what it can read when a file is missing, and warns once across ticks", async () => {
    const proc = new StubProcFs({ loadavg: "1.50 1.00 0.50 1/10 100\n", stat: { error: "EACCES" } });
    const log = captureLogger();
    const load = createLoadCollector();
    for (const now of [T0, T0 + 1_000, T0 + 2_000]) {
      const samples = await load.collect(context(proc, now, log.logger));
      expect(samples.map((s) => s.metric)).toEqual(["load1", "load5", "load15"]);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("uptime"));
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("stat"));
  });

  it("skips a truncated loadavg with one warning and keeps uptime", async () => {
    const proc = new StubProcFs({ loadavg: "0.3", uptime: "12.5 3.0\n", stat: "procs_running 1\n" });
    const log = captureLogger();
    const samples = await createLoadCollector().collect(context(proc, T0, log.logger));
    expect(samples.map((s) => s.metric)).toEqual(["uptime_seconds", "processes_running"]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("truncated");
  });

  it("never throws, whatever the files say", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.string(), async (loadavg, uptime, stat) => {
        const proc = new StubProcFs({ loadavg, uptime, stat });
        const load = createLoadCollector();
        await load.collect(context(proc, T0));
        for (const s of await load.collect(context(proc, T1))) expect(Number.isFinite(s.value)).toBe(true);
      }),
    );
  });
});
