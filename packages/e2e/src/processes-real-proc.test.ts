import { spawn } from "node:child_process";
import { builtinCollectors, defaultOptions, ProcFs } from "@vigil/collectors";
import { createLogger } from "@vigil/common";
import { describe, expect, it } from "vitest";

// On this machine's real /proc: the processes collector keeps each process's stat file open between
// ticks and closes it once the process is gone, so descriptors never pile up.
describe("processes collector on the real /proc", () => {
  it("keeps a live process's stat descriptor and releases it after the process exits", async () => {
    const registration = builtinCollectors().find((r) => r.name === "processes");
    if (!registration) throw new Error("no processes collector");
    const collector = registration.create(defaultOptions(registration));
    const proc = new ProcFs("/proc");
    const sys = new ProcFs("/sys");
    const logger = createLogger({ name: "test", level: "silent" });
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = String(child.pid);
    try {
      expect(proc.keepsFilesOpen).toBe(true);
      const first = await collector.collect({ now: 1_000, proc, sys, logger });
      expect(first.find((s) => s.metric === "processes_total")?.value).toBeGreaterThan(1);
      expect(proc.isKept(`${pid}/stat`)).toBe(true);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      await collector.collect({ now: 2_000, proc, sys, logger });
      expect(proc.isKept(`${pid}/stat`)).toBe(false);
      // Every kept descriptor belongs to a process that still exists: one stat per process, one statm
      // per top process (at most 2 × top_n = 20), and a few system-wide files.
      const kept = proc.keptCount;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(
        (first.find((s) => s.metric === "processes_total")?.value ?? 0) + 20 + 10,
      );
    } finally {
      child.kill("SIGKILL");
      proc.close();
      sys.close();
    }
  });
});
