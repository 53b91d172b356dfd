import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import {
  createHwmonCollector,
  hwmonDeviceId,
  parseMillidegrees,
  parseSysfsText,
  temperatureInputs,
} from "./hwmon.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, fixtureSysRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
const INFO = 30;

function context(sys: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc: new StubProcFs({}), sys, logger };
}

function temperatures(samples: readonly Sample[]): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [`${s.labels.chip}|${s.labels.sensor}`, s.value]));
}

describe("hwmon parsers", () => {
  it("reads millidegrees, negative ones too, and rejects anything else", () => {
    expect(parseMillidegrees("45000\n")).toBe(45);
    expect(parseMillidegrees("35850\n")).toBe(35.85);
    expect(parseMillidegrees("-5000\n")).toBe(-5);
    for (const text of ["", "\n", "4x", "1e3", "--1"]) expect(parseMillidegrees(text)).toBeUndefined();
  });

  it("reads a label without its newline", () => {
    expect(parseSysfsText("Package id 0\n")).toBe("Package id 0");
    expect(parseSysfsText("\n")).toBeUndefined();
  });

  it("finds temp*_input files in numeric order", () => {
    expect(
      temperatureInputs(["temp10_input", "name", "temp2_input", "temp2_label", "temp1_crit", "in0_input"]),
    ).toEqual([2, 10]);
  });

  it("names the device above hwmonN", () => {
    expect(hwmonDeviceId("/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/hwmon1")).toBe(
      "nvme0",
    );
    expect(hwmonDeviceId("/sys/devices/platform/coretemp.0/hwmon/hwmon2")).toBe("coretemp.0");
    expect(hwmonDeviceId("hwmon1")).toBeUndefined();
  });

  it("never throw", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        parseMillidegrees(text);
        parseSysfsText(text);
        hwmonDeviceId(text);
        temperatureInputs(text.split("/"));
      }),
    );
  });
});

describe("hwmon collector on the hand-written desktop sysfs tree", () => {
  // hwmon0 acpitz: temp1 27800 (no label); hwmon1 nvme (nvme0): Composite 35850, Sensor 1 35850, Sensor 2 39850
  // hwmon2 coretemp: Package id 0 45000, Core 0..3 43000 44000 41000 42000; hwmon3 nvme (nvme1): Composite 31850, Sensor 1 31850
  it("reads every temp*_input through the class symlinks, naming same-named chips by device", async () => {
    const log = captureLogger();
    const samples = await createHwmonCollector().collect(
      context(new ProcFs(fixtureSysRoot("desktop")), T0, log.logger),
    );
    expect(temperatures(samples)).toEqual({
      "acpitz|temp1": 27.8,
      "nvme/nvme0|Composite": 35.85,
      "nvme/nvme0|Sensor 1": 35.85,
      "nvme/nvme0|Sensor 2": 39.85,
      "coretemp|Package id 0": 45,
      "coretemp|Core 0": 43,
      "coretemp|Core 1": 44,
      "coretemp|Core 2": 41,
      "coretemp|Core 3": 42,
      "nvme/nvme1|Composite": 31.85,
      "nvme/nvme1|Sensor 1": 31.85,
    });
    expect(samples.every((s) => s.ts === T0 && s.metric === "hwmon_temperature_celsius")).toBe(true);
    expect(log.warnings()).toEqual([]);
  });

  it("emits nothing without /sys/class/hwmon (this VM) and logs one info line, no warning", async () => {
    const log = captureLogger();
    const hwmon = createHwmonCollector();
    const sys = new ProcFs(fixtureProcRoot("container")); // has no class/hwmon
    for (const now of [T0, T0 + 1_000])
      expect(await hwmon.collect(context(sys, now, log.logger))).toEqual([]);
    expect(log.warnings()).toEqual([]);
    expect(log.lines.filter((l) => l.level === INFO)).toHaveLength(1);
  });

  it("skips a sensor with no reading now, a garbled one, and reads old drivers' device/ layout", async () => {
    const sys = new StubProcFs({
      "class/hwmon/hwmon0/name": "nvme\n",
      "class/hwmon/hwmon0/temp1_input": { error: "ENODATA" },
      "class/hwmon/hwmon0/temp2_input": "garbage\n",
      "class/hwmon/hwmon0/temp3_input": "30000\n",
      "class/hwmon/hwmon1/device/name": "it87\n",
      "class/hwmon/hwmon1/device/temp1_input": "50000\n",
      "class/hwmon/hwmon1/device/temp1_label": { error: "EACCES" },
      "class/hwmon/hwmon2/temp1_input": "20000\n", // no name file at all
    });
    const log = captureLogger();
    const samples = await createHwmonCollector().collect(context(sys, T0, log.logger));
    expect(temperatures(samples)).toEqual({ "nvme|temp3": 30, "it87|temp1": 50, "hwmon2|temp1": 20 });
    expect(log.warnings()).toEqual([]);
  });

  it("warns once for an unreadable sensor and for an unlistable class directory", async () => {
    const sys = new StubProcFs({
      "class/hwmon/hwmon0/name": "x\n",
      "class/hwmon/hwmon0/temp1_input": { error: "EACCES" },
    });
    const log = captureLogger();
    const hwmon = createHwmonCollector();
    await hwmon.collect(context(sys, T0, log.logger));
    await hwmon.collect(context(sys, T0 + 1, log.logger));
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("temp1_input");
    const denied = new StubProcFs({ "class/hwmon": { error: "EACCES" } });
    expect(await hwmon.collect(context(denied, T0 + 2, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(2);
  });

  it("sees a sensor that disappears mid-read (device unplugged) as skipped, not an error", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-hwmon-"));
    try {
      fs.cpSync(fixtureSysRoot("desktop"), root, { recursive: true, verbatimSymlinks: true });
      fs.rmSync(path.join(root, "devices/pci0000:00/0000:00:1b.0/0000:3e:00.0/nvme/nvme1/hwmon3"), {
        recursive: true,
      });
      const log = captureLogger();
      const samples = await createHwmonCollector().collect(context(new ProcFs(root), T0, log.logger));
      // hwmon3's link now dangles: nvme is a unique name again, so no device suffix
      expect(Object.keys(temperatures(samples))).toContain("nvme|Composite");
      expect(samples).toHaveLength(9);
      expect(log.warnings()).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
