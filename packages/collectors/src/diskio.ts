import type { MetricDescriptor, Sample } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { CounterDeltas } from "./counter-delta.js";
import { createNameFilter } from "./name-filter.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import type { ProcFs } from "./procfs.js";
import { isProcReadError } from "./procfs.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/**
 * The unit of the sector counts in the procfs diskstats file: always 512 bytes, whatever the
 * device's `queue/hw_sector_size` (4096 on 4Kn drives and many NVMe namespaces). The block layer
 * counts in 512-byte sectors everywhere above the driver (`SECTOR_SHIFT` = 9); see the kernel's
 * Documentation/admin-guide/iostats.rst and Documentation/ABI/testing/procfs-diskstats, and
 * node_exporter, which multiplies by a fixed 512 too. Multiplying by hw_sector_size would
 * overstate a 4Kn drive's throughput 8×, so the collector does not read that file.
 */
export const DISKSTATS_SECTOR_BYTES = 512;

/**
 * One line of the procfs diskstats file: counters since boot (or since the device appeared).
 * Fields the line does not carry are undefined: before Linux 2.6.25 a partition's line had only
 * four counters (reads, sectors read, writes, sectors written).
 */
export interface DiskStats {
  readonly major: number;
  readonly minor: number;
  readonly device: string;
  readonly readsCompleted: number;
  readonly sectorsRead: number;
  readonly writesCompleted: number;
  readonly sectorsWritten: number;
  readonly readsMerged: number | undefined;
  readonly readTimeMs: number | undefined;
  readonly writesMerged: number | undefined;
  readonly writeTimeMs: number | undefined;
  /** I/Os in flight now: a gauge, not a counter. */
  readonly ioInProgress: number | undefined;
  /** Milliseconds the device had I/O in flight (`io_ticks`): its busy time. */
  readonly ioTimeMs: number | undefined;
  readonly weightedIoTimeMs: number | undefined;
}

/** What {@link parseDiskstats} understood of the file. */
export interface Diskstats {
  /** In file order. */
  readonly disks: readonly DiskStats[];
  /** Lines skipped as malformed. */
  readonly issues: readonly ParseIssue[];
}

/**
 * Parses the text of the procfs diskstats file. Pure, never throws. A line is
 * `major minor name` and then 11 counters (2.6+), 15 (4.18+, discards), 17 (5.5+, flushes), or
 * 4 for a partition on kernels before 2.6.25. Counters past the 11th are not needed and not read.
 */
export function parseDiskstats(text: string): Diskstats {
  const { lines, issues } = completeLines(text);
  const disks: DiskStats[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1 && fields[0] === "") continue;
    const counters = fields.length - 3;
    if (counters !== 4 && counters < 11) {
      issues.push(parseIssue(i + 1, line, `${counters} counters, 4 or at least 11 expected`));
      continue;
    }
    const [major, minor, device = "", ...rest] = fields;
    const numbers = [major, minor, ...rest.slice(0, 11)].map(parseCount);
    const bad = numbers.indexOf(undefined);
    if (bad !== -1) {
      issues.push(parseIssue(i + 1, line, `"${[major, minor, ...rest][bad]}" is not a counter`));
      continue;
    }
    if (seen.has(device)) {
      issues.push(parseIssue(i + 1, line, `second line for ${device}`));
      continue;
    }
    seen.add(device);
    const n = numbers as number[];
    const at = (k: number) => n[k + 2] as number;
    disks.push(
      counters === 4
        ? {
            major: n[0] as number,
            minor: n[1] as number,
            device,
            readsCompleted: at(0),
            sectorsRead: at(1),
            writesCompleted: at(2),
            sectorsWritten: at(3),
            readsMerged: undefined,
            readTimeMs: undefined,
            writesMerged: undefined,
            writeTimeMs: undefined,
            ioInProgress: undefined,
            ioTimeMs: undefined,
            weightedIoTimeMs: undefined,
          }
        : {
            major: n[0] as number,
            minor: n[1] as number,
            device,
            readsCompleted: at(0),
            readsMerged: at(1),
            sectorsRead: at(2),
            readTimeMs: at(3),
            writesCompleted: at(4),
            writesMerged: at(5),
            sectorsWritten: at(6),
            writeTimeMs: at(7),
            ioInProgress: at(8),
            ioTimeMs: at(9),
            weightedIoTimeMs: at(10),
          },
    );
  }
  return { disks, issues };
}

/**
 * Partition names by convention (sdX/hdX/vdX/xvdX + digits, nvmeXnYpZ, mmcblkXpY): the fallback
 * when sysfs cannot say (not mounted in a container, a fixture tree without `sys/`).
 */
const PARTITION_NAME_RE = /^((h|s|v|xv)d[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)$/;

/**
 * Whether `device` is a partition. sysfs decides when it can: every whole disk has
 * `/sys/block/<dev>/`, a partition has `/sys/class/block/<dev>/partition` instead. When sysfs
 * knows neither, the name decides ({@link PARTITION_NAME_RE}).
 */
export function isPartition(sys: ProcFs, device: string): boolean {
  if (device.includes("/") || device === "." || device === "..") return PARTITION_NAME_RE.test(device);
  if (sysfsHas(sys, `block/${device}/dev`)) return false;
  if (sysfsHas(sys, `class/block/${device}/partition`)) return true;
  return PARTITION_NAME_RE.test(device);
}

function sysfsHas(sys: ProcFs, relPath: string): boolean {
  try {
    sys.read(relPath);
    return true;
  } catch (error: unknown) {
    if (!isProcReadError(error)) throw error;
    return false;
  }
}

/**
 * Devices skipped by default: the virtual block devices of node_exporter's default
 * `--collector.diskstats.device-exclude` (RAM disks, compressed-RAM swap, loop devices, floppies).
 * Its other half, partitions, is `include_partitions = false` here. Device-mapper (`dm-*`: LVM,
 * LUKS) and md RAID (`md*`) are kept: they are what filesystems are mounted on, and their I/O is
 * what applications see.
 */
export const DEFAULT_EXCLUDED_DEVICES: readonly string[] = ["loop*", "ram*", "zram*", "fd*"];

/** The `[collectors.diskio]` options. */
export const DISKIO_OPTIONS = z.strictObject({
  include_devices: z.array(z.string().min(1)).default(["*"]),
  exclude_devices: z.array(z.string().min(1)).default([...DEFAULT_EXCLUDED_DEVICES]),
  include_partitions: z.boolean().default(false),
});
export type DiskioOptions = z.output<typeof DISKIO_OPTIONS>;

const SOURCE = "/proc/diskstats";

/** The metrics the `diskio` collector emits. */
export const DISKIO_METRICS: readonly MetricDescriptor[] = [
  {
    name: "disk_read_bytes_per_second",
    type: "gauge",
    unit: "bytes/s",
    help: "Bytes read per second since the previous reading (sectors read × 512: diskstats counts 512-byte sectors whatever the device's sector size).",
    labels: ["device"],
    source: SOURCE,
    nodeExporter: "node_disk_read_bytes_total",
  },
  {
    name: "disk_write_bytes_per_second",
    type: "gauge",
    unit: "bytes/s",
    help: "Bytes written per second since the previous reading (sectors written × 512).",
    labels: ["device"],
    source: SOURCE,
    nodeExporter: "node_disk_written_bytes_total",
  },
  {
    name: "disk_reads_per_second",
    type: "gauge",
    unit: "1/s",
    help: "Reads completed per second since the previous reading.",
    labels: ["device"],
    source: SOURCE,
    nodeExporter: "node_disk_reads_completed_total",
  },
  {
    name: "disk_writes_per_second",
    type: "gauge",
    unit: "1/s",
    help: "Writes completed per second since the previous reading.",
    labels: ["device"],
    source: SOURCE,
    nodeExporter: "node_disk_writes_completed_total",
  },
  {
    name: "disk_io_time_percent",
    type: "gauge",
    unit: "percent",
    help: "Share of the time since the previous reading that the device had I/O in flight (iostat's %util), capped at 100. For devices that serve requests in parallel (SSD, NVMe, RAID) 100 does not mean saturated.",
    labels: ["device"],
    source: SOURCE,
    nodeExporter: "node_disk_io_time_seconds_total",
  },
];

/**
 * Creates the `diskio` collector: per-device throughput, operations and busy time, as rates
 * between two consecutive readings of the procfs diskstats file. The first reading emits nothing;
 * a device whose counters went down (driver reloaded, device re-created, or a 32-bit counter
 * wrapping: `io_ticks` is printed as a 32-bit count of milliseconds, so it wraps every ~49.7 days
 * of busy time) emits nothing that tick.
 *
 * Whole disks only by default (a partition's I/O is inside its disk's); `include_partitions`
 * adds them. Which names are partitions comes from sysfs (see {@link isPartition}), cached per name
 * while the name stays in diskstats.
 */
export function createDiskioCollector(given: Partial<DiskioOptions> = {}): Collector {
  // Missing keys take their defaults, so `create({})` and partial options in tests work too.
  const options: DiskioOptions = { ...DISKIO_OPTIONS.parse({}), ...given };
  const isSelected = createNameFilter(options.include_devices, options.exclude_devices);
  const deltas = new CounterDeltas();
  const warnings = new WarningLatch();
  const partitionByName = new Map<string, boolean>();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const text = readProcFile(ctx.proc, "diskstats", "disk I/O metrics", problems);
    if (text !== undefined) {
      const stats = parseDiskstats(text);
      if (stats.issues.length > 0) {
        problems.push(
          parseIssuesProblem(
            ctx.proc,
            "diskstats",
            stats.issues,
            "devices on those lines are skipped this tick",
          ),
        );
      }
      const present = new Set<string>();
      for (const disk of stats.disks) {
        present.add(disk.device);
        if (!isSelected(disk.device)) continue;
        if (!options.include_partitions) {
          let partition = partitionByName.get(disk.device);
          if (partition === undefined) {
            partition = isPartition(ctx.sys, disk.device);
            partitionByName.set(disk.device, partition);
          }
          if (partition) continue;
        }
        const values = [
          disk.sectorsRead,
          disk.sectorsWritten,
          disk.readsCompleted,
          disk.writesCompleted,
          disk.ioTimeMs,
        ];
        const delta = deltas.next(disk.device, values, ctx.now);
        if (delta === undefined || delta.elapsedMs <= 0) continue;
        const [sectorsRead = 0, sectorsWritten = 0, reads = 0, writes = 0, ioTimeMs] = delta.deltas;
        const seconds = delta.elapsedMs / 1000;
        const labels = { device: disk.device };
        const emit = (metric: string, value: number) =>
          samples.push({ metric, labels: { ...labels }, value, ts: ctx.now });
        emit("disk_read_bytes_per_second", (sectorsRead * DISKSTATS_SECTOR_BYTES) / seconds);
        emit("disk_write_bytes_per_second", (sectorsWritten * DISKSTATS_SECTOR_BYTES) / seconds);
        emit("disk_reads_per_second", reads / seconds);
        emit("disk_writes_per_second", writes / seconds);
        if (ioTimeMs !== undefined)
          emit("disk_io_time_percent", Math.min(100, (100 * ioTimeMs) / delta.elapsedMs));
      }
      for (const name of partitionByName.keys()) if (!present.has(name)) partitionByName.delete(name);
      deltas.sweep();
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "diskio", metrics: DISKIO_METRICS, collect };
}
