import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LABEL_NAME_RE, METRIC_NAME_RE } from "@vigil/common";
import { describe, expect, it } from "vitest";
import { defaultOptions } from "./define-collector.js";
import { builtinCollectors, type Collector, ProcFs } from "./index.js";
import { captureLogger, fixtureProcRoot } from "./test-support.js";

const NOT_PROCFS = new Set(["systemd", "gpu", "textfile", "directory", "exec"]);

describe("builtinCollectors", () => {
  it("registers the command and directory collectors with their defaults", () => {
    const defaults = Object.fromEntries(
      builtinCollectors()
        .filter((r) => NOT_PROCFS.has(r.name))
        .map((r) => [r.name, [r.defaultEnabled, r.defaultIntervalMs]]),
    );
    expect(defaults).toEqual({
      systemd: [true, 10_000],
      gpu: [true, 10_000],
      textfile: [true, 10_000],
      directory: [false, 300_000],
      exec: [false, 10_000],
    });
  });

  it("lists every built-in collector with its default state and interval", () => {
    expect(builtinCollectors().map((r) => [r.name, r.defaultEnabled, r.defaultIntervalMs])).toEqual([
      ["cpu", true, 10_000],
      ["memory", true, 10_000],
      ["load", true, 10_000],
      ["processes", true, 10_000],
      ["filehandles", true, 10_000],
      ["pressure", true, 10_000],
      ["hwmon", true, 10_000],
      ["filesystem", true, 10_000],
      ["diskio", true, 10_000],
      ["network", true, 10_000],
      ["systemd", true, 10_000],
      ["gpu", true, 10_000],
      ["textfile", true, 10_000],
      ["directory", false, 300_000],
      ["exec", false, 10_000],
    ]);
  });

  it("creates collectors named as registered, with fresh state each time", () => {
    for (const registration of builtinCollectors()) {
      const a = registration.create(defaultOptions(registration));
      const b = registration.create(defaultOptions(registration));
      expect(a.name).toBe(registration.name);
      expect(a).not.toBe(b);
    }
  });

  it("declares metric and label names that follow the Prometheus rules, each name once", () => {
    const names = builtinCollectors().flatMap((r) => r.create(defaultOptions(r)).metrics.map((m) => m.name));
    expect(new Set(names).size).toBe(names.length);
    for (const registration of builtinCollectors()) {
      for (const m of registration.create(defaultOptions(registration)).metrics) {
        expect(m.name).toMatch(METRIC_NAME_RE);
        expect(m.help).not.toBe("");
        for (const label of m.labels) expect(label).toMatch(LABEL_NAME_RE);
        if (m.name.endsWith("_percent")) expect(m.unit).toBe("percent");
        if (m.name.endsWith("_bytes")) expect(m.unit).toBe("bytes");
      }
    }
  });

  it("run over two recorded readings, every collector emits only what it declares, stamped with the tick", async () => {
    // Collectors that run commands or read configured directories, not /proc and /sys, are tested
    // against fake programs and temp trees in their own files (systemd, gpu, textfile, directory, exec).
    const collectors: Collector[] = builtinCollectors()
      .filter((r) => !NOT_PROCFS.has(r.name))
      .map((r) => r.create(defaultOptions(r)));
    const { logger, warnings } = captureLogger();
    const emitted = new Set<string>();
    for (const [tick, now] of [
      ["t0", 1_000],
      ["t1", 2_000],
    ] as const) {
      const proc = new ProcFs(fixtureProcRoot("this-machine", tick));
      for (const collector of collectors) {
        for (const sample of await collector.collect({
          now,
          proc,
          sys: proc,
          logger: logger.child({ collector: collector.name }),
        })) {
          const declared = collector.metrics.find((m) => m.name === sample.metric);
          expect(declared, `${collector.name} emitted undeclared ${sample.metric}`).toBeDefined();
          expect(Object.keys(sample.labels).sort()).toEqual([...(declared?.labels ?? [])].sort());
          expect(sample.ts).toBe(now);
          expect(Number.isFinite(sample.value)).toBe(true);
          emitted.add(sample.metric);
        }
      }
      proc.close();
    }
    expect(warnings()).toEqual([]);
    // Everything declared shows up on this machine except swap_used_percent (it has no swap) and
    // hwmon_temperature_celsius (a VM without hwmon sensors).
    const declared = collectors.flatMap((c) => c.metrics.map((m) => m.name));
    expect(declared.filter((name) => !emitted.has(name))).toEqual([
      "swap_used_percent",
      "hwmon_temperature_celsius",
    ]);
  });

  it("sees files swapped in by rename under one ProcFs, as the agent's end-to-end tests do", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-swap-"));
    try {
      fs.cpSync(fixtureProcRoot("this-machine", "t0"), path.join(dir, "proc"), { recursive: true });
      const proc = new ProcFs(path.join(dir, "proc"));
      const cpuRegistration = builtinCollectors()[0];
      const cpu = cpuRegistration?.create(defaultOptions(cpuRegistration));
      const { logger } = captureLogger();
      expect(await cpu?.collect({ now: 1_000, proc, sys: proc, logger })).toEqual([]);
      for (const file of ["stat", "meminfo"]) {
        fs.copyFileSync(
          path.join(fixtureProcRoot("this-machine", "t1"), file),
          path.join(dir, "proc", `${file}.new`),
        );
        fs.renameSync(path.join(dir, "proc", `${file}.new`), path.join(dir, "proc", file));
      }
      const samples = (await cpu?.collect({ now: 2_000, proc, sys: proc, logger })) ?? [];
      // 206 ticks passed in total, 99 of them idle, 0 iowait (see cpu.test.ts)
      const total = samples.find((s) => s.metric === "cpu_usage_percent" && s.labels.cpu === "total");
      expect(total?.value).toBeCloseTo(100 * (1 - 99 / 206), 12);
      proc.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
