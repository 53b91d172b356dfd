import { type MetricDescriptor, type Sample, zDurationMs } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { describeFailure, firstLine, runCommand } from "./run-command.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The `--query-gpu` fields, in the order the collector asks for them. */
export const NVIDIA_SMI_FIELDS = [
  "index",
  "name",
  "uuid",
  "utilization.gpu",
  "memory.used",
  "memory.total",
  "temperature.gpu",
  "power.draw",
] as const;

/** One GPU as nvidia-smi reports it. A field it prints as `[N/A]`/`[Not Supported]` (or garbles) is undefined. */
export interface NvidiaGpu {
  readonly index: string;
  readonly name: string;
  readonly uuid: string;
  /** Percent of the last sample period a kernel ran. */
  readonly utilizationPercent: number | undefined;
  readonly memoryUsedBytes: number | undefined;
  readonly memoryTotalBytes: number | undefined;
  readonly temperatureCelsius: number | undefined;
  readonly powerWatts: number | undefined;
}

export interface NvidiaSmiParse {
  readonly gpus: readonly NvidiaGpu[];
  /** 1-based numbers and text of lines that were not 8 fields with an index. */
  readonly issues: readonly { line: number; text: string }[];
}

const MIB = 1024 * 1024;

/**
 * Parses `nvidia-smi --query-gpu=index,name,uuid,utilization.gpu,memory.used,memory.total,
 * temperature.gpu,power.draw --format=csv,noheader,nounits`: one line per GPU, fields separated by
 * `, `, memory in MiB (returned in bytes), power in W. Pure, never throws.
 */
export function parseNvidiaSmiCsv(text: string): NvidiaSmiParse {
  const gpus: NvidiaGpu[] = [];
  const issues: { line: number; text: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    const [index = "", name = "", uuid = "", util, memUsed, memTotal, temp, power] = fields;
    if (fields.length !== NVIDIA_SMI_FIELDS.length || !/^\d+$/.test(index)) {
      issues.push({ line: i + 1, text: line.length > 200 ? `${line.slice(0, 200)}…` : line });
      continue;
    }
    const used = number(memUsed);
    const total = number(memTotal);
    gpus.push({
      index,
      name,
      uuid,
      utilizationPercent: number(util),
      memoryUsedBytes: used === undefined ? undefined : used * MIB,
      memoryTotalBytes: total === undefined ? undefined : total * MIB,
      temperatureCelsius: number(temp),
      powerWatts: number(power),
    });
  }
  return { gpus, issues };
}

/** A finite decimal, else undefined (`[N/A]`, `[Not Supported]`, `[Unknown Error]`, garbage). */
function number(field: string | undefined): number | undefined {
  if (field === undefined || !/^-?\d+(\.\d+)?$/.test(field)) return undefined;
  const value = Number(field);
  return Number.isFinite(value) ? value : undefined;
}

const SOURCE = "nvidia-smi --query-gpu";

/** The metrics the `gpu` collector emits. */
export const GPU_METRICS: readonly MetricDescriptor[] = [
  {
    name: "gpu_utilization_percent",
    type: "gauge",
    unit: "percent",
    help: "Share of the last sample period (1/6 s to 1 s, by GPU) in which a kernel ran on the GPU (`utilization.gpu`).",
    labels: ["gpu", "name"],
    source: SOURCE,
  },
  {
    name: "gpu_memory_used_bytes",
    type: "gauge",
    unit: "bytes",
    help: "GPU memory allocated by active contexts (`memory.used`, MiB × 1048576).",
    labels: ["gpu"],
    source: SOURCE,
  },
  {
    name: "gpu_memory_total_bytes",
    type: "gauge",
    unit: "bytes",
    help: "GPU memory installed (`memory.total`, MiB × 1048576).",
    labels: ["gpu"],
    source: SOURCE,
  },
  {
    name: "gpu_temperature_celsius",
    type: "gauge",
    unit: "celsius",
    help: "Core GPU temperature (`temperature.gpu`).",
    labels: ["gpu"],
    source: SOURCE,
  },
  {
    name: "gpu_power_watts",
    type: "gauge",
    unit: "watts",
    help: "Power draw of the whole board (`power.draw`); absent on GPUs that do not report it.",
    labels: ["gpu"],
    source: SOURCE,
  },
];

export interface GpuOptions {
  /** The nvidia-smi program: a name looked up in PATH, or a path. */
  readonly nvidia_smi_path: string;
  /** Milliseconds one nvidia-smi run may take before it is killed. */
  readonly timeout: number;
}

export const GPU_DEFAULT_OPTIONS: GpuOptions = { nvidia_smi_path: "nvidia-smi", timeout: 5_000 };

/** `[collectors.gpu]` keys besides enabled/interval. */
export const GPU_OPTIONS = z.strictObject({
  nvidia_smi_path: z.string().min(1).default(GPU_DEFAULT_OPTIONS.nvidia_smi_path),
  timeout: zDurationMs({ minMs: 100, maxMs: 600_000 }).default(GPU_DEFAULT_OPTIONS.timeout),
});

const ARGS = [`--query-gpu=${NVIDIA_SMI_FIELDS.join(",")}`, "--format=csv,noheader,nounits"];
/** What nvidia-smi prints when there is no driver to talk to (a machine without NVIDIA GPUs). */
const NO_DRIVER_RE =
  /NVIDIA-SMI has failed|No devices were found|couldn't communicate with the NVIDIA driver/i;

/**
 * Creates the `gpu` collector: NVIDIA GPU utilisation, memory, temperature and power from one
 * `nvidia-smi --query-gpu` run per tick. Without nvidia-smi, or without a working driver, it logs
 * one info line and emits nothing from then on.
 */
export function createGpuCollector(options: Partial<GpuOptions> = {}): Collector {
  const { nvidia_smi_path: program, timeout } = { ...GPU_DEFAULT_OPTIONS, ...options };
  const warnings = new WarningLatch();
  let disabled = false;

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    if (disabled) return [];
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const result = await runCommand([program, ...ARGS], { timeoutMs: timeout, stdoutCapBytes: 1024 * 1024 });
    const output = `${result.stdout}\n${result.stderr}`;
    if (result.spawnError === "ENOENT" || (result.exitCode !== 0 && NO_DRIVER_RE.test(output))) {
      disabled = true;
      ctx.logger.info(
        { nvidia_smi: program, reason: result.spawnError ?? firstLine(output) },
        result.spawnError
          ? `${program} not found: no NVIDIA driver here, so the gpu collector stops (set collectors.gpu.nvidia_smi_path if nvidia-smi lives elsewhere)`
          : `${firstLine(output)}: the gpu collector stops (set collectors.gpu.enabled = false to silence this line)`,
      );
      return [];
    }
    if (result.exitCode !== 0 || result.timedOut || result.truncated) {
      problems.push({
        key: `run:${result.spawnError ?? (result.timedOut ? "timeout" : (result.signal ?? result.exitCode))}`,
        message: `${describeFailure(program, result, timeout)}, so GPU metrics are not collected: run \`${program}\` by hand as the agent's user to see why`,
      });
    } else {
      const { gpus, issues } = parseNvidiaSmiCsv(result.stdout);
      if (issues.length > 0) {
        const first = issues[0];
        problems.push({
          key: "parse",
          message: `skipped ${issues.length} line(s) of ${program} output not in the expected 8-field format (line ${first?.line} "${first?.text}"); those GPUs are not reported`,
          details: { issues },
        });
      }
      const emit = (metric: string, labels: Record<string, string>, value: number | undefined) => {
        if (value !== undefined) samples.push({ metric, labels, value, ts: ctx.now });
      };
      for (const g of gpus) {
        emit("gpu_utilization_percent", { gpu: g.index, name: g.name }, g.utilizationPercent);
        emit("gpu_memory_used_bytes", { gpu: g.index }, g.memoryUsedBytes);
        emit("gpu_memory_total_bytes", { gpu: g.index }, g.memoryTotalBytes);
        emit("gpu_temperature_celsius", { gpu: g.index }, g.temperatureCelsius);
        emit("gpu_power_watts", { gpu: g.index }, g.powerWatts);
      }
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "gpu", metrics: GPU_METRICS, collect };
}
