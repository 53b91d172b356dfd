import * as z from "zod";
import type { CollectorRegistration } from "./collector.js";
import { createCpuCollector } from "./cpu.js";
import { defineCollector, NO_OPTIONS } from "./define-collector.js";
import { createDirectoryCollector, DIRECTORY_OPTIONS } from "./directory.js";
import { createDiskioCollector, DISKIO_OPTIONS } from "./diskio.js";
import { createExecCollector, EXEC_OPTIONS } from "./exec.js";
import { createFilehandlesCollector } from "./filehandles.js";
import { createFilesystemCollector, FILESYSTEM_OPTIONS } from "./filesystem.js";
import { createGpuCollector, GPU_OPTIONS } from "./gpu.js";
import { createHwmonCollector } from "./hwmon.js";
import { createLoadCollector } from "./load.js";
import { createMemoryCollector } from "./memory.js";
import { createNetworkCollector, NETWORK_OPTIONS } from "./network.js";
import { createPressureCollector } from "./pressure.js";
import { createProcessesCollector } from "./processes.js";
import { createSystemdCollector, SYSTEMD_OPTIONS } from "./systemd.js";
import { createTextfileCollector, TEXTFILE_OPTIONS } from "./textfile.js";

/** Interval of the built-in collectors unless the agent config sets `[collectors.NAME] interval`. */
export const DEFAULT_COLLECTOR_INTERVAL_MS = 10_000;

/**
 * Every built-in collector, in a fixed order. An explicit list on purpose: importing a collector
 * module registers nothing, so what runs is what this function returns.
 */
export function builtinCollectors(): readonly CollectorRegistration[] {
  return [
    defineCollector({
      name: "cpu",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createCpuCollector(),
    }),
    defineCollector({
      name: "memory",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createMemoryCollector(),
    }),
    defineCollector({
      name: "load",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createLoadCollector(),
    }),
    defineCollector({
      name: "processes",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: z.strictObject({
        /** Processes listed by CPU and by memory each (the union is reported); 0 reports only the totals. */
        top_n: z.int().min(0).max(100).default(10),
      }),
      create: (options) => createProcessesCollector({ topN: options.top_n }),
    }),
    defineCollector({
      name: "filehandles",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createFilehandlesCollector(),
    }),
    defineCollector({
      name: "pressure",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createPressureCollector(),
    }),
    defineCollector({
      name: "hwmon",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NO_OPTIONS,
      create: () => createHwmonCollector(),
    }),
    defineCollector({
      name: "filesystem",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: FILESYSTEM_OPTIONS,
      create: (options) => createFilesystemCollector(options),
    }),
    defineCollector({
      name: "diskio",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: DISKIO_OPTIONS,
      create: (options) => createDiskioCollector(options),
    }),
    defineCollector({
      name: "network",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: NETWORK_OPTIONS,
      create: (options) => createNetworkCollector(options),
    }),
    defineCollector({
      name: "systemd",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: SYSTEMD_OPTIONS,
      create: (options) => createSystemdCollector(options),
    }),
    defineCollector({
      name: "gpu",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: GPU_OPTIONS,
      create: (options) => createGpuCollector(options),
    }),
    defineCollector({
      name: "textfile",
      defaultEnabled: true,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: TEXTFILE_OPTIONS,
      create: (options) => createTextfileCollector(options),
    }),
    defineCollector({
      name: "directory",
      defaultEnabled: false,
      defaultIntervalMs: 300_000,
      options: DIRECTORY_OPTIONS,
      create: (options) => createDirectoryCollector(options),
    }),
    defineCollector({
      name: "exec",
      defaultEnabled: false,
      defaultIntervalMs: DEFAULT_COLLECTOR_INTERVAL_MS,
      options: EXEC_OPTIONS,
      create: (options) => createExecCollector(options),
    }),
  ];
}
