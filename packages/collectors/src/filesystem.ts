import fs from "node:fs";
import { type MetricDescriptor, type Sample, zDurationMs } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { canStatfsSync } from "./local-filesystems.js";
import { createNameFilter } from "./name-filter.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** One line of the procfs `self/mountinfo` file (proc(5)), escapes decoded. */
export interface MountInfo {
  readonly mountId: number;
  readonly parentId: number;
  /** `major:minor` of the mounted filesystem (its st_dev); the same for every bind mount of one filesystem. */
  readonly devNumber: string;
  /** The directory of the filesystem that is mounted here (`/` unless a bind mount of a subdirectory). */
  readonly root: string;
  readonly mountpoint: string;
  readonly options: string;
  readonly fstype: string;
  /** The mount source: a device path (`/dev/sda1`), `server:/export`, or a word like `tmpfs`. */
  readonly source: string;
  readonly superOptions: string;
}

/** What {@link parseMountinfo} understood of the file. */
export interface Mountinfo {
  /** In file order: a mount listed later on the same mountpoint is stacked over the earlier one. */
  readonly mounts: readonly MountInfo[];
  /** Lines skipped as malformed. */
  readonly issues: readonly ParseIssue[];
}

/**
 * Undoes the kernel's escaping of mountinfo fields: space, tab, newline and backslash are printed
 * as 3-digit octal (`\040`, `\011`, `\012`, `\134`); every other byte is printed as is.
 */
export function decodeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/**
 * Parses the text of the procfs `self/mountinfo` file. Pure, never throws. A line is
 * `id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions`;
 * fields are separated by single spaces (the kernel escapes spaces inside fields), so an empty
 * source stays an empty field.
 */
export function parseMountinfo(text: string): Mountinfo {
  const { lines, issues } = completeLines(text);
  const mounts: MountInfo[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line === "") continue;
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (separator === -1 || fields.length < separator + 3) {
      issues.push(parseIssue(i + 1, line, 'no "- fstype source" part after the optional fields'));
      continue;
    }
    const [id, parent, devNumber = "", root = "", mountpoint = "", options = ""] = fields;
    const mountId = parseCount(id);
    const parentId = parseCount(parent);
    if (mountId === undefined || parentId === undefined) {
      issues.push(parseIssue(i + 1, line, "mount id or parent id is not a number"));
      continue;
    }
    if (!/^\d+:\d+$/.test(devNumber)) {
      issues.push(parseIssue(i + 1, line, `"${devNumber}" is not major:minor`));
      continue;
    }
    const decodedMountpoint = decodeMountField(mountpoint);
    if (!decodedMountpoint.startsWith("/")) {
      issues.push(parseIssue(i + 1, line, `mount point "${mountpoint}" is not an absolute path`));
      continue;
    }
    const fstype = fields[separator + 1] ?? "";
    if (fstype === "") {
      issues.push(parseIssue(i + 1, line, "empty filesystem type"));
      continue;
    }
    mounts.push({
      mountId,
      parentId,
      devNumber,
      root: decodeMountField(root),
      mountpoint: decodedMountpoint,
      options,
      fstype: decodeMountField(fstype),
      source: decodeMountField(fields[separator + 2] ?? ""),
      superOptions: fields[separator + 3] ?? "",
    });
  }
  return { mounts, issues };
}

/**
 * The mounts to measure, in mountinfo order:
 * 1. per mount point only the last mount listed (a later mount on the same directory hides the
 *    earlier one, and statfs(2) of the path reaches the top one);
 * 2. only mount points and filesystem types the filters select;
 * 3. per filesystem (`major:minor`), only the mount with the shortest mount point (the first of
 *    equals): bind mounts and btrfs subvolumes of one filesystem would otherwise report the same
 *    space several times.
 */
export function selectMounts(
  mounts: readonly MountInfo[],
  isSelectedMountpoint: (mountpoint: string) => boolean,
  isSelectedFstype: (fstype: string) => boolean,
): MountInfo[] {
  const visible = new Map<string, MountInfo>();
  for (const mount of mounts) visible.set(mount.mountpoint, mount);
  const byDevice = new Map<string, MountInfo>();
  for (const mount of mounts) {
    if (visible.get(mount.mountpoint) !== mount) continue;
    if (!isSelectedFstype(mount.fstype) || !isSelectedMountpoint(mount.mountpoint)) continue;
    const kept = byDevice.get(mount.devNumber);
    if (kept === undefined || mount.mountpoint.length < kept.mountpoint.length)
      byDevice.set(mount.devNumber, mount);
  }
  const chosen = new Set(byDevice.values());
  return mounts.filter((m) => chosen.has(m));
}

/** The fields of statfs(2) the collector uses, as `fs.promises.statfs` returns them. */
export interface FsStats {
  /** Block size the counts below are in (Node's `bsize`, the kernel's `f_bsize`). */
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  /** Free blocks an unprivileged user may use (free minus the root reserve). */
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
}

/** statfs(2) of a path. Injectable so tests use fixture numbers or a promise that never settles. */
export type StatFsFunction = (path: string) => Promise<FsStats>;

/** statfs(2) of a path on the calling thread (`fs.statfsSync`); used only where it cannot hang (local-filesystems.ts). */
export type StatFsSyncFunction = (path: string) => FsStats;

/**
 * Filesystem types skipped by default: node_exporter's default `--collector.filesystem.fs-types-exclude`.
 * Kernel-internal and virtual filesystems (their sizes mean nothing or are always 0), overlay (a
 * container's root: its space is the space of the filesystem below, measured there) and read-only
 * images (iso9660, squashfs, erofs: always 100% full by construction). tmpfs is measured: a full
 * /dev/shm or /run breaks programs as surely as a full disk, and df shows it too.
 */
export const DEFAULT_EXCLUDED_FSTYPES: readonly string[] = [
  "autofs",
  "binfmt_misc",
  "bpf",
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "erofs",
  "fusectl",
  "hugetlbfs",
  "iso9660",
  "mqueue",
  "nsfs",
  "overlay",
  "proc",
  "procfs",
  "pstore",
  "rpc_pipefs",
  "securityfs",
  "selinuxfs",
  "squashfs",
  "sysfs",
  "tracefs",
];

/**
 * Mount points skipped by default, after node_exporter's default `--collector.filesystem.mount-points-exclude`:
 * the kernel's own trees, systemd's per-service credential mounts, and the per-container mounts
 * of Docker and Podman (each container's layers, already counted on the filesystem below).
 */
export const DEFAULT_EXCLUDED_MOUNTPOINTS: readonly string[] = [
  "/dev",
  "/dev/**",
  "/proc",
  "/proc/**",
  "/sys",
  "/sys/**",
  "/run/credentials/**",
  "/var/lib/docker/**",
  "/var/lib/containers/storage/**",
];

const globs = (defaults: readonly string[]) => z.array(z.string().min(1)).default([...defaults]);

/** The `[collectors.filesystem]` options. */
export const FILESYSTEM_OPTIONS = z.strictObject({
  include_mountpoints: globs(["**"]),
  exclude_mountpoints: globs(DEFAULT_EXCLUDED_MOUNTPOINTS),
  include_fstypes: globs(["*"]),
  exclude_fstypes: globs(DEFAULT_EXCLUDED_FSTYPES),
  statfs_timeout: zDurationMs({ minMs: 1, maxMs: 600_000 }).default(5_000),
});
export type FilesystemOptions = z.output<typeof FILESYSTEM_OPTIONS>;

const SOURCE = "statfs(2) of each mount in /proc/self/mountinfo";
const LABELS = ["mountpoint", "device", "fstype"] as const;

/** The metrics the `filesystem` collector emits. */
export const FILESYSTEM_METRICS: readonly MetricDescriptor[] = [
  {
    name: "filesystem_size_bytes",
    type: "gauge",
    unit: "bytes",
    help: "Size of the filesystem (f_blocks × f_bsize).",
    labels: LABELS,
    source: SOURCE,
    nodeExporter: "node_filesystem_size_bytes",
  },
  {
    name: "filesystem_free_bytes",
    type: "gauge",
    unit: "bytes",
    help: "Free space, including the blocks reserved for root (f_bfree × f_bsize).",
    labels: LABELS,
    source: SOURCE,
    nodeExporter: "node_filesystem_free_bytes",
  },
  {
    name: "filesystem_avail_bytes",
    type: "gauge",
    unit: "bytes",
    help: "Free space an unprivileged user can use (f_bavail × f_bsize).",
    labels: LABELS,
    source: SOURCE,
    nodeExporter: "node_filesystem_avail_bytes",
  },
  {
    name: "filesystem_used_percent",
    type: "gauge",
    unit: "percent",
    help: "Used space as df's Use% computes it: used / (used + available) × 100, where used = size − free; the root reserve counts as neither, so 100 means full for unprivileged users.",
    labels: LABELS,
    source: SOURCE,
  },
  {
    name: "filesystem_inodes_used_percent",
    type: "gauge",
    unit: "percent",
    help: "Used inodes: (f_files − f_ffree) / f_files × 100. Not emitted for filesystems that report no inode count (f_files = 0, e.g. btrfs, vfat).",
    labels: LABELS,
    source: SOURCE,
  },
];

const TIMED_OUT = Symbol("timed out");
type StatfsOutcome = { readonly stats: FsStats } | { readonly error: unknown };

/** A selected mount, as measured every tick until mountinfo changes. */
interface PlannedMount {
  readonly mount: MountInfo;
  readonly labels: { readonly mountpoint: string; readonly device: string; readonly fstype: string };
  /** statfs runs on this thread (a local filesystem reached through local ones only); else timed in the pool. */
  readonly sync: boolean;
}

/** What one mountinfo text means for the collector; rebuilt only when the text changes. */
interface MountPlan {
  readonly text: string;
  readonly mounts: readonly PlannedMount[];
  readonly issues: readonly ParseIssue[];
}

/**
 * Creates the `filesystem` collector: space and inode use of each selected mount, from the mount
 * list in the procfs `self/mountinfo` and statfs(2) of each mount point.
 *
 * Cost per tick: one read of mountinfo (on a kept descriptor), compared with the previous text: only
 * a changed mount table is parsed and filtered again. Then one statfs per selected mount: on this
 * thread for a local disk or memory filesystem (a few µs; see local-filesystems.ts), through the
 * libuv thread pool with a timeout for anything else.
 *
 * A hung network mount must not stall the collector: each thread-pool statfs races `statfs_timeout`
 * (one timer per tick, shared by that tick's calls). A mount whose statfs timed out is skipped on
 * later ticks until that call finally returns (it cannot be cancelled: it holds one libuv thread-pool
 * thread until then, so at most one call per hung mount is ever outstanding). It is warned about once
 * while it stays hung.
 *
 * Mount points are passed to statfs as mountinfo writes them: with a procfs root other than the
 * host's `/proc` (a container reading the host's), they are the host's paths and must be visible
 * at the same place to the agent.
 *
 * `deps.statfs` replaces the thread-pool statfs; `deps.statfsSync` the synchronous one. Injecting
 * `statfs` alone sends every mount through it (tests that hang or fail a call by path rely on that).
 */
export function createFilesystemCollector(
  given: Partial<FilesystemOptions> = {},
  deps: { readonly statfs?: StatFsFunction; readonly statfsSync?: StatFsSyncFunction } = {},
): Collector {
  // Missing keys take their defaults, so `create({})` and partial options in tests work too.
  const options: FilesystemOptions = { ...FILESYSTEM_OPTIONS.parse({}), ...given };
  const statfs = deps.statfs ?? ((path: string) => fs.promises.statfs(path));
  const statfsSync: StatFsSyncFunction | undefined =
    deps.statfsSync ?? (deps.statfs === undefined ? (path: string) => fs.statfsSync(path) : undefined);
  const isSelectedMountpoint = createNameFilter(options.include_mountpoints, options.exclude_mountpoints);
  const isSelectedFstype = createNameFilter(options.include_fstypes, options.exclude_fstypes);
  const timeoutMs = options.statfs_timeout;
  const warnings = new WarningLatch();
  /**
   * statfs calls still running, by mount point. Between ticks only calls that timed out are left
   * here (the others settled before their tick ended), so a mount point found here is hung.
   */
  const outstanding = new Map<string, { timedOut: boolean }>();
  let plan: MountPlan | undefined;

  function planFor(text: string): MountPlan {
    if (plan?.text === text) return plan;
    const parsed = parseMountinfo(text);
    const visible = new Map<string, MountInfo>();
    for (const mount of parsed.mounts) visible.set(mount.mountpoint, mount);
    const mounts = selectMounts(parsed.mounts, isSelectedMountpoint, isSelectedFstype).map((mount) => ({
      mount,
      labels: { mountpoint: mount.mountpoint, device: mount.source, fstype: mount.fstype },
      sync: statfsSync !== undefined && canStatfsSync(mount, visible),
    }));
    plan = { text, mounts, issues: parsed.issues };
    return plan;
  }

  function startStatfs(
    ctx: CollectContext,
    mountpoint: string,
    call: { timedOut: boolean },
  ): Promise<StatfsOutcome> {
    outstanding.set(mountpoint, call);
    // An injected statfs may throw instead of rejecting; either way it becomes an outcome.
    return Promise.resolve()
      .then(() => statfs(mountpoint))
      .then(
        (stats) => ({ stats }),
        (error: unknown) => ({ error }),
      )
      .finally(() => {
        outstanding.delete(mountpoint);
        if (call.timedOut) {
          ctx.logger.info({ mountpoint }, `statfs of ${mountpoint} returned after all; measuring it again`);
        }
      });
  }

  /** The stats of a statfs outcome, or undefined after noting why there are none. */
  function statsOf(
    ctx: CollectContext,
    mountpoint: string,
    outcome: StatfsOutcome,
    problems: CollectProblem[],
  ): FsStats | undefined {
    if ("stats" in outcome) return outcome.stats;
    const code = errnoCode(outcome.error);
    if (code === "ENOENT") {
      // Unmounted between reading mountinfo and statfs: nothing is wrong, it is just gone.
      ctx.logger.debug({ mountpoint, code }, `${mountpoint} vanished before statfs`);
      return undefined;
    }
    problems.push({
      key: `statfs:${mountpoint}:${code}`,
      message:
        `statfs of ${mountpoint} failed (${code}), so its filesystem metrics are not collected: ` +
        "run the agent as a user allowed to stat it, or leave it out with collectors.filesystem.exclude_mountpoints",
      details: {
        mountpoint,
        code,
        error: outcome.error instanceof Error ? outcome.error.message : String(outcome.error),
      },
    });
    return undefined;
  }

  function measureSync(
    ctx: CollectContext,
    mountpoint: string,
    measure: StatFsSyncFunction,
    problems: CollectProblem[],
  ): FsStats | undefined {
    let outcome: StatfsOutcome;
    try {
      outcome = { stats: measure(mountpoint) };
    } catch (error: unknown) {
      outcome = { error };
    }
    return statsOf(ctx, mountpoint, outcome, problems);
  }

  async function measureAsync(
    ctx: CollectContext,
    mount: MountInfo,
    timeout: Promise<typeof TIMED_OUT>,
    problems: CollectProblem[],
  ): Promise<FsStats | undefined> {
    const { mountpoint } = mount;
    const hungProblem = {
      key: `statfs-hung:${mountpoint}`,
      message:
        `statfs of ${mountpoint} (${mount.fstype} from ${mount.source}) did not return within ${timeoutMs} ms, ` +
        "so it is skipped until it does: check the server behind that mount, or leave it out with " +
        "collectors.filesystem.exclude_mountpoints or exclude_fstypes",
      details: { mountpoint, fstype: mount.fstype, device: mount.source, timeoutMs },
    };
    if (outstanding.has(mountpoint)) {
      problems.push(hungProblem);
      return undefined;
    }
    const call = { timedOut: false };
    const outcome = await Promise.race([startStatfs(ctx, mountpoint, call), timeout]);
    if (outcome === TIMED_OUT) {
      call.timedOut = true;
      problems.push(hungProblem);
      return undefined;
    }
    return statsOf(ctx, mountpoint, outcome, problems);
  }

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const text = readProcFile(ctx.proc, "self/mountinfo", "filesystem metrics", problems);
    if (text !== undefined) {
      const { mounts, issues } = planFor(text);
      if (issues.length > 0) {
        problems.push(
          parseIssuesProblem(ctx.proc, "self/mountinfo", issues, "mounts on those lines are not measured"),
        );
      }
      const results = new Array<FsStats | undefined>(mounts.length);
      const pending: Promise<void>[] = [];
      // One timer for the tick, started with its first thread-pool call, shared by all of them.
      let timer: NodeJS.Timeout | undefined;
      let timeout: Promise<typeof TIMED_OUT> | undefined;
      mounts.forEach(({ mount, sync }, i) => {
        if (sync && statfsSync !== undefined) {
          results[i] = measureSync(ctx, mount.mountpoint, statfsSync, problems);
          return;
        }
        timeout ??= new Promise<typeof TIMED_OUT>((resolve) => {
          timer = setTimeout(resolve, timeoutMs, TIMED_OUT);
          timer.unref();
        });
        pending.push(
          measureAsync(ctx, mount, timeout, problems).then((stats) => {
            results[i] = stats;
          }),
        );
      });
      if (pending.length > 0) await Promise.all(pending);
      clearTimeout(timer);
      mounts.forEach(({ labels }, i) => {
        const stats = results[i];
        if (stats === undefined) return;
        for (const [metric, value] of filesystemValues(stats)) {
          samples.push({ metric, labels: { ...labels }, value, ts: ctx.now });
        }
      });
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "filesystem", metrics: FILESYSTEM_METRICS, collect };
}

/** The metric values of one statfs result; percentages only where their denominator is not 0. */
export function filesystemValues(stats: FsStats): [string, number][] {
  const { bsize, blocks, bfree, bavail, files, ffree } = stats;
  const values: [string, number][] = [
    ["filesystem_size_bytes", blocks * bsize],
    ["filesystem_free_bytes", bfree * bsize],
    ["filesystem_avail_bytes", bavail * bsize],
  ];
  const used = Math.max(0, blocks - bfree);
  if (used + bavail > 0) values.push(["filesystem_used_percent", (100 * used) / (used + bavail)]);
  if (files > 0) values.push(["filesystem_inodes_used_percent", (100 * Math.max(0, files - ffree)) / files]);
  return values.filter(([, value]) => Number.isFinite(value));
}

function errnoCode(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === "string" ? code : "EUNKNOWN";
}
