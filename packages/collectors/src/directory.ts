import fs from "node:fs";
import path from "node:path";
import { type MetricDescriptor, type Sample, zDurationMs } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** Entries handled between two yields to the event loop, so fast collectors keep their ticks. */
export const DIRECTORY_ENTRIES_PER_TURN = 256;

/** What one walk of a directory tree found. Sizes are allocated space, like `du`. */
export interface DirectoryUsage {
  /** Σ st_blocks × 512 over every entry (the root included), each hard-linked inode counted once. */
  readonly bytes: number;
  /** Entries below the root that are not directories (files, symlinks, sockets…), hard links once. */
  readonly files: number;
  /** Entries that could not be read (EACCES on a subdirectory or a vanished file), skipped. */
  readonly unreadable: number;
}

export interface WalkOptions {
  /** Give up when this (performance.now() milliseconds) is reached. */
  readonly deadline: number;
  readonly entriesPerTurn?: number;
  /** Injectable for tests; default `performance.now`. */
  readonly clock?: () => number;
}

/** Thrown by {@link walkDirectory} when the deadline passes. */
export class WalkTimeoutError extends Error {
  readonly code = "ETIMEDOUT";
}

/**
 * Walks `root` like `du -s`: never follows symlinks (a link's own blocks count), counts a hard-linked
 * inode once (dev+ino), stays in its own work budget by yielding every `entriesPerTurn` entries with
 * `setImmediate`, and skips unreadable entries (counted). Rejects with WalkTimeoutError at the deadline,
 * and with the lstat error when `root` itself cannot be read.
 */
export async function walkDirectory(root: string, options: WalkOptions): Promise<DirectoryUsage> {
  const clock = options.clock ?? (() => performance.now());
  const perTurn = options.entriesPerTurn ?? DIRECTORY_ENTRIES_PER_TURN;
  const seen = new Set<string>();
  let bytes = 0;
  let files = 0;
  let unreadable = 0;
  let work = 0;
  const tick = async () => {
    if (++work % perTurn !== 0) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (clock() >= options.deadline) throw new WalkTimeoutError(`walking ${root} took too long`);
  };
  const account = (stat: fs.BigIntStats | fs.Stats): boolean => {
    const key = `${stat.dev}:${stat.ino}`;
    if (stat.nlink > 1 && !stat.isDirectory()) {
      if (seen.has(key)) return false;
      seen.add(key);
    }
    bytes += Number(stat.blocks) * 512;
    return true;
  };

  const rootStat = await fs.promises.lstat(root);
  account(rootStat);
  if (!rootStat.isDirectory()) return { bytes, files: 1, unreadable };
  const pending: string[] = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    let handle: fs.Dir;
    try {
      handle = await fs.promises.opendir(dir, { bufferSize: 64 });
    } catch (error: unknown) {
      // Permission denied or gone since it was listed: its own blocks were counted, its contents cannot be.
      if (dir === root) throw error;
      unreadable++;
      continue;
    }
    for await (const entry of handle) {
      await tick();
      const full = path.join(dir, entry.name);
      let stat: fs.Stats;
      try {
        stat = await fs.promises.lstat(full);
      } catch {
        // Removed between readdir and lstat, or not permitted: counted as unreadable, not fatal.
        unreadable++;
        continue;
      }
      if (!account(stat)) continue;
      if (stat.isDirectory()) pending.push(full);
      else files++;
    }
  }
  return { bytes, files, unreadable };
}

const SOURCE = "lstat(2) walk of collectors.directory.paths";

/** The metrics the `directory` collector emits, per configured path. */
export const DIRECTORY_METRICS: readonly MetricDescriptor[] = [
  {
    name: "directory_size_bytes",
    type: "gauge",
    unit: "bytes",
    help: "Space allocated to the tree, as `du -s --block-size=1` counts it: st_blocks × 512 of every entry, hard links once, symlinks not followed.",
    labels: ["path"],
    source: SOURCE,
  },
  {
    name: "directory_files",
    type: "gauge",
    unit: "1",
    help: "Entries in the tree that are not directories (files, symlinks, sockets), hard links once.",
    labels: ["path"],
    source: SOURCE,
  },
  {
    name: "directory_unreadable_entries",
    type: "gauge",
    unit: "1",
    help: "Entries skipped because they could not be read (a subdirectory the agent may not open, a file removed mid-walk); the size leaves them out.",
    labels: ["path"],
    source: SOURCE,
  },
];

export interface DirectoryOptions {
  /** Absolute paths whose trees are measured. */
  readonly paths: readonly string[];
  /** Milliseconds one path's walk may take before it is abandoned. */
  readonly timeout: number;
}

/** `[collectors.directory]` keys besides enabled/interval. */
export const DIRECTORY_OPTIONS = z.strictObject({
  paths: z.array(z.string().refine((p) => path.isAbsolute(p), "must be an absolute path")).default([]),
  timeout: zDurationMs({ minMs: 100, maxMs: 3_600_000 }).default(30_000),
});

/**
 * Creates the `directory` collector: the allocated size and the file count of each configured
 * tree. Paths are walked one after another, each bounded by `timeout`; a path that times out or
 * cannot be read emits nothing that tick, with one warning.
 */
export function createDirectoryCollector(options: Partial<DirectoryOptions> = {}): Collector {
  const paths = options.paths ?? [];
  const timeout = options.timeout ?? 30_000;
  const warnings = new WarningLatch();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    for (const root of paths) {
      try {
        const usage = await walkDirectory(root, { deadline: performance.now() + timeout });
        const labels = { path: root };
        samples.push({ metric: "directory_size_bytes", labels, value: usage.bytes, ts: ctx.now });
        samples.push({ metric: "directory_files", labels, value: usage.files, ts: ctx.now });
        samples.push({
          metric: "directory_unreadable_entries",
          labels,
          value: usage.unreadable,
          ts: ctx.now,
        });
        if (usage.unreadable > 0)
          ctx.logger.debug({ path: root, unreadable: usage.unreadable }, "skipped unreadable entries");
      } catch (error: unknown) {
        const code = (error as NodeJS.ErrnoException).code ?? "EUNKNOWN";
        problems.push({
          key: `${root}:${code}`,
          message:
            error instanceof WalkTimeoutError
              ? `walking ${root} took longer than ${timeout} ms, so its size is not reported: raise collectors.directory.timeout or measure a smaller tree`
              : `cannot read ${root} (${code}), so its size is not reported: check collectors.directory.paths and that the agent's user may read it`,
        });
      }
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "directory", metrics: DIRECTORY_METRICS, collect };
}
