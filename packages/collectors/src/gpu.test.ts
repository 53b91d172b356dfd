import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { commandContext, fixtureBin, fixtureFile } from "./command-test-support.js";
import { createGpuCollector, parseNvidiaSmiCsv } from "./gpu.js";
import { captureLogger } from "./test-support.js";

const T0 = 1_764_040_000_000;
const FAKE = fixtureBin("fake-nvidia-smi");
const INFO = 30;
const MIB = 1_048_576;

function series(samples: readonly { metric: string; labels: object; value: number }[]): string[] {
  return samples.map((s) => `${s.metric}${JSON.stringify(s.labels)} ${s.value}`);
}

describe("parseNvidiaSmiCsv", () => {
  it("reads one GPU, memory in bytes", () => {
    expect(parseNvidiaSmiCsv(fixtureFile("nvidia-smi", "one-gpu.stdout"))).toEqual({
      issues: [],
      gpus: [
        {
          index: "0",
          name: "NVIDIA H100 80GB HBM3",
          uuid: "GPU-5a7c9b1e-3f2d-4c8a-9e6b-1d2f3a4b5c6d",
          utilizationPercent: 37,
          memoryUsedBytes: 10240 * MIB,
          memoryTotalBytes: 81559 * MIB,
          temperatureCelsius: 41,
          powerWatts: 312.45,
        },
      ],
    });
  });

  it("reads eight GPUs, leaving [N/A] and [Not Supported] fields undefined", () => {
    const { gpus, issues } = parseNvidiaSmiCsv(fixtureFile("nvidia-smi", "eight-gpus.stdout"));
    expect(issues).toEqual([]);
    expect(gpus.map((g) => g.index)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
    expect(gpus[3]?.powerWatts).toBeUndefined();
    expect(gpus[3]?.temperatureCelsius).toBe(32);
    expect(gpus[5]?.utilizationPercent).toBeUndefined();
    expect(gpus[5]?.temperatureCelsius).toBeUndefined();
    expect(gpus[5]?.powerWatts).toBe(249.99);
  });

  it("skips lines that are not 8 fields with an index, naming them", () => {
    expect(parseNvidiaSmiCsv("garbage\n0, only, three\n")).toEqual({
      gpus: [],
      issues: [
        { line: 1, text: "garbage" },
        { line: 2, text: "0, only, three" },
      ],
    });
  });

  it("never throws, and reads back every generated line", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseNvidiaSmiCsv(text)));
    const value = fc.oneof(
      fc.nat({ max: 1_000_000 }).map(String),
      fc.constantFrom("[N/A]", "[Not Supported]"),
    );
    const gpu = fc.tuple(fc.stringMatching(/^[A-Za-z0-9 -]{1,30}$/), value, value, value, value, value);
    fc.assert(
      fc.property(fc.array(gpu, { maxLength: 8 }), (rows) => {
        const text = rows.map((r, i) => `${i}, ${r[0]}, GPU-${i}, ${r.slice(1).join(", ")}\n`).join("");
        const { gpus, issues } = parseNvidiaSmiCsv(text);
        expect(issues).toEqual([]);
        expect(gpus).toHaveLength(rows.length);
        gpus.forEach((g, i) => {
          const mem = rows[i]?.[2] ?? "";
          expect(g.memoryUsedBytes).toBe(/^\d+$/.test(mem) ? Number(mem) * MIB : undefined);
        });
      }),
    );
  });
});

describe("gpu collector (through a fake nvidia-smi process)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-gpu-"));
    vi.stubEnv("FAKE_NVIDIA_SMI_LOG", path.join(dir, "calls"));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("emits each GPU's metrics with the exact query, twice", async () => {
    vi.stubEnv("FAKE_NVIDIA_SMI_CASE", "one-gpu");
    const log = captureLogger();
    const gpu = createGpuCollector({ nvidia_smi_path: FAKE });
    for (const now of [T0, T0 + 10_000]) {
      const samples = await gpu.collect(commandContext(now, log.logger));
      expect(series(samples)).toEqual([
        'gpu_utilization_percent{"gpu":"0","name":"NVIDIA H100 80GB HBM3"} 37',
        `gpu_memory_used_bytes{"gpu":"0"} ${10240 * MIB}`,
        `gpu_memory_total_bytes{"gpu":"0"} ${81559 * MIB}`,
        'gpu_temperature_celsius{"gpu":"0"} 41',
        'gpu_power_watts{"gpu":"0"} 312.45',
      ]);
      expect(samples.every((s) => s.ts === now)).toBe(true);
    }
    expect(fs.readFileSync(path.join(dir, "calls"), "utf8").split("\n")[0]).toBe(
      "--query-gpu=index,name,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw --format=csv,noheader,nounits",
    );
    expect(log.lines.filter((l) => l.level >= INFO)).toEqual([]);
  });

  it("leaves out the metrics a GPU reports as [N/A]", async () => {
    vi.stubEnv("FAKE_NVIDIA_SMI_CASE", "eight-gpus");
    const samples = await createGpuCollector({ nvidia_smi_path: FAKE }).collect(
      commandContext(T0, captureLogger().logger),
    );
    expect(samples).toHaveLength(8 * 5 - 3);
    expect(samples.filter((s) => s.labels.gpu === "3").map((s) => s.metric)).not.toContain("gpu_power_watts");
    expect(samples.filter((s) => s.labels.gpu === "5").map((s) => s.metric)).toEqual([
      "gpu_memory_used_bytes",
      "gpu_memory_total_bytes",
      "gpu_power_watts",
    ]);
  });

  it("stops with one info line when the driver is missing", async () => {
    vi.stubEnv("FAKE_NVIDIA_SMI_CASE", "no-driver");
    const log = captureLogger();
    const gpu = createGpuCollector({ nvidia_smi_path: FAKE });
    expect(await gpu.collect(commandContext(T0, log.logger))).toEqual([]);
    expect(await gpu.collect(commandContext(T0 + 1, log.logger))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")).toHaveLength(1);
    expect(log.lines.filter((l) => l.level === INFO).map((l) => l.msg)).toEqual([
      expect.stringContaining("NVIDIA-SMI has failed"),
    ]);
    expect(log.warnings()).toEqual([]);
  });

  it("stops with one info line when nvidia-smi does not exist", async () => {
    const log = captureLogger();
    const gpu = createGpuCollector({ nvidia_smi_path: path.join(dir, "nvidia-smi") });
    await gpu.collect(commandContext(T0, log.logger));
    await gpu.collect(commandContext(T0 + 1, log.logger));
    expect(log.lines.filter((l) => l.level === INFO)).toHaveLength(1);
    expect(log.warnings()).toEqual([]);
  });

  it("warns once on garbage and on a timeout", async () => {
    vi.stubEnv("FAKE_NVIDIA_SMI_CASE", "garbage");
    const log = captureLogger();
    const gpu = createGpuCollector({ nvidia_smi_path: FAKE, timeout: 200 });
    expect(await gpu.collect(commandContext(T0, log.logger))).toEqual([]);
    expect(await gpu.collect(commandContext(T0 + 1, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain('line 1 "garbage"');
    vi.stubEnv("FAKE_NVIDIA_SMI_SLEEP", "5");
    expect(await gpu.collect(commandContext(T0 + 2, log.logger))).toEqual([]);
    expect(await gpu.collect(commandContext(T0 + 3, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(2);
    expect(log.warnings()[1]?.msg).toContain("killed");
  });
});
