import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import { createFilehandlesCollector, parseFileNr } from "./filehandles.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

describe("parseFileNr", () => {
  it("reads this machine's tab-separated line", () => {
    const proc = new ProcFs(fixtureProcRoot("this-machine", "t1"));
    // 464	0	2466160
    expect(parseFileNr(proc.read("sys/fs/file-nr"))).toEqual({
      allocated: 464,
      unused: 0,
      max: 2466160,
      issues: [],
    });
  });

  it("keeps an 'unlimited' file-max (LONG_MAX) as the nearest double", () => {
    expect(parseFileNr("1024\t0\t9223372036854775807\n").max).toBe(2 ** 63);
  });

  it("gives one issue and no values for a short, truncated or empty file", () => {
    for (const text of ["464\t0\n", "464\t0\t24", ""]) {
      const nr = parseFileNr(text);
      expect(nr.allocated, JSON.stringify(text)).toBeUndefined();
      expect(nr.issues).toHaveLength(1);
    }
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseFileNr(text)));
  });
});

describe("filehandles collector", () => {
  it("emits allocated, max and the used share from the recorded file", async () => {
    const samples = await createFilehandlesCollector().collect(
      context(new ProcFs(fixtureProcRoot("this-machine", "t0")), T0),
    );
    expect(samples).toEqual([
      { metric: "file_handles_allocated", labels: {}, value: 464, ts: T0 },
      { metric: "file_handles_max", labels: {}, value: 2466160, ts: T0 },
      { metric: "file_handles_used_percent", labels: {}, value: (100 * 464) / 2466160, ts: T0 },
    ]);
  });

  it("reads the container scenario (a PID namespace sees the host's count)", async () => {
    const samples = await createFilehandlesCollector().collect(
      context(new ProcFs(fixtureProcRoot("container")), T0),
    );
    expect(samples.map((s) => s.metric)).toContain("file_handles_max");
  });

  it("warns once for a missing file and once for a malformed one, never throws", async () => {
    const proc = new StubProcFs({});
    const log = captureLogger();
    const collector = createFilehandlesCollector();
    expect(await collector.collect(context(proc, T0, log.logger))).toEqual([]);
    expect(await collector.collect(context(proc, T0 + 1, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("sys/fs/file-nr"));
    proc.set("sys/fs/file-nr", "many\n");
    expect(await collector.collect(context(proc, T0 + 2, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(2);
  });

  it("emits no percentage when file-max is 0", async () => {
    const proc = new StubProcFs({ "sys/fs/file-nr": "5\t0\t0\n" });
    const samples = await createFilehandlesCollector().collect(context(proc, T0));
    expect(samples.map((s) => s.metric)).toEqual(["file_handles_allocated", "file_handles_max"]);
  });
});
