import fs from "node:fs";
import path from "node:path";
import type { MetricDescriptor, Sample } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { type PrometheusSample, type PrometheusTextParse, parsePrometheusText } from "./prometheus-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The directory the `textfile` collector reads unless configured. */
export const DEFAULT_TEXTFILE_DIRECTORY = "/var/lib/vigil-agent/textfile";
/** Files larger than this are skipped: a runaway writer must not make the agent read gigabytes. */
export const TEXTFILE_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The metrics the `textfile` collector always declares. Everything else it emits comes from the
 * `*.prom` files, under the names and labels written there.
 */
export const TEXTFILE_METRICS: readonly MetricDescriptor[] = [
  {
    name: "textfile_mtime_seconds",
    type: "gauge",
    unit: "seconds",
    help: "Modification time of each *.prom file read, Unix seconds: alert when a cron job stops refreshing its file.",
    labels: ["file"],
    source: "stat(2) of the textfile directory's *.prom files",
    nodeExporter: "node_textfile_mtime_seconds",
  },
  {
    name: "textfile_scrape_error",
    type: "gauge",
    unit: "1",
    help: "1 when a *.prom file could not be read or had a malformed line this tick, else 0.",
    labels: [],
    source: "the textfile directory",
    nodeExporter: "node_textfile_scrape_error",
  },
];

export interface TextfileOptions {
  /** Directory whose `*.prom` files are read (not recursively). */
  readonly directory: string;
}

/** `[collectors.textfile]` keys besides enabled/interval. */
export const TEXTFILE_OPTIONS = z.strictObject({
  directory: z.string().min(1).default(DEFAULT_TEXTFILE_DIRECTORY),
});

/** Merges the samples of several parsed files: the first file to give a series wins; later ones are issues. */
export function mergeTextfileSamples(files: readonly { file: string; parse: PrometheusTextParse }[]): {
  samples: PrometheusSample[];
  duplicates: { file: string; series: string }[];
} {
  const seen = new Set<string>();
  const samples: PrometheusSample[] = [];
  const duplicates: { file: string; series: string }[] = [];
  for (const { file, parse } of files) {
    for (const s of parse.samples) {
      const key = `${s.metric}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
      if (seen.has(key)) {
        duplicates.push({ file, series: key });
        continue;
      }
      seen.add(key);
      samples.push(s);
    }
  }
  return { samples, duplicates };
}

/**
 * Creates the `textfile` collector (node_exporter's convention): every `*.prom` file in `directory`
 * is parsed as Prometheus text format and its samples passed through as written, stamped with the
 * line's timestamp if it has one, else the tick's. A missing default directory is silent (nothing is
 * emitted); a missing configured directory is one warning.
 */
export function createTextfileCollector(options: Partial<TextfileOptions> = {}): Collector {
  const directory = options.directory ?? DEFAULT_TEXTFILE_DIRECTORY;
  const warnings = new WarningLatch();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    if (directory === DEFAULT_TEXTFILE_DIRECTORY && defaultDirectoryMissing()) {
      // Nothing set up for it yet: like node_exporter with no directory, say nothing.
      warnings.settle(ctx.logger, []);
      return [];
    }
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(directory, { withFileTypes: true });
    } catch (error: unknown) {
      const code = (error as NodeJS.ErrnoException).code ?? "EUNKNOWN";
      if (code === "ENOENT" && directory === DEFAULT_TEXTFILE_DIRECTORY) {
        // Nothing set up for it yet: like node_exporter with no directory, say nothing.
        warnings.settle(ctx.logger, []);
        return [];
      }
      problems.push({
        key: `readdir:${code}`,
        message: `cannot list ${directory} (${code}), so no textfile metrics are collected: create it, or set collectors.textfile.directory, and let the agent's user read it`,
      });
      warnings.settle(ctx.logger, problems);
      return [{ metric: "textfile_scrape_error", labels: {}, value: 1, ts: ctx.now }];
    }

    const names = entries
      .filter((e) => e.name.endsWith(".prom") && (e.isFile() || e.isSymbolicLink()))
      .map((e) => e.name)
      .sort();
    const samples: Sample[] = [];
    const parsed: { file: string; parse: PrometheusTextParse }[] = [];
    let error = false;
    for (const name of names) {
      const file = path.join(directory, name);
      const read = await readCapped(file);
      if (typeof read === "string") {
        error = true;
        problems.push({
          key: `read:${name}:${read}`,
          message: `cannot read ${file} (${read}), so its metrics are skipped`,
        });
        continue;
      }
      samples.push({
        metric: "textfile_mtime_seconds",
        labels: { file: name },
        value: read.mtimeMs / 1000,
        ts: ctx.now,
      });
      const parse = parsePrometheusText(read.text);
      const first = parse.issues[0];
      if (first) {
        error = true;
        problems.push({
          key: `parse:${name}:${first.line}`,
          message: `${file}:${first.line}: ${first.reason} ("${first.text}")${parse.issues.length > 1 ? ` and ${parse.issues.length - 1} more malformed line(s)` : ""}; the file's other lines are used`,
          details: { issues: parse.issues },
        });
      }
      if (parse.nonFinite > 0) {
        problems.push({
          key: `nonfinite:${name}`,
          message: `dropped ${parse.nonFinite} NaN/Inf value(s) in ${file}: Vigil stores only finite numbers`,
        });
      }
      parsed.push({ file: name, parse });
    }
    const merged = mergeTextfileSamples(parsed);
    const dup = merged.duplicates[0];
    if (dup) {
      problems.push({
        key: `duplicate:${dup.file}:${dup.series}`,
        message: `${merged.duplicates.length} series given again (first: ${dup.series} in ${dup.file}); the first file's value is used`,
      });
    }
    for (const s of merged.samples)
      samples.push({ metric: s.metric, labels: s.labels, value: s.value, ts: s.timestampMs ?? ctx.now });
    samples.push({ metric: "textfile_scrape_error", labels: {}, value: error ? 1 : 0, ts: ctx.now });
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "textfile", metrics: TEXTFILE_METRICS, collect };
}

/**
 * Whether the default directory is absent, the usual case (nothing set up). A listing through the
 * thread pool that fails costs a hop and an Error with its stack (0.3–0.9 ms of CPU per tick measured
 * here, a fifth of a whole collection); a synchronous stat that answers `undefined` instead of
 * throwing costs microseconds. Only for the default path: the agent's own local state directory,
 * where a configured one might sit on a mount that hangs. Any other answer (it exists, EACCES...)
 * goes on to the listing, which reports it.
 */
function defaultDirectoryMissing(): boolean {
  try {
    return fs.statSync(DEFAULT_TEXTFILE_DIRECTORY, { throwIfNoEntry: false }) === undefined;
  } catch {
    // ENOTDIR, EACCES...: the listing below fails the same way and says so.
    return false;
  }
}

/** The file's text and mtime, or an errno-like code (`EFBIG` for a file over the cap). */
async function readCapped(file: string): Promise<{ text: string; mtimeMs: number } | string> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, "r");
    const stat = await handle.stat();
    if (!stat.isFile()) return "ENOTFILE";
    if (stat.size > TEXTFILE_MAX_BYTES) return "EFBIG";
    const buffer = Buffer.alloc(Math.min(stat.size + 1, TEXTFILE_MAX_BYTES + 1));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > TEXTFILE_MAX_BYTES) return "EFBIG";
    return { text: buffer.subarray(0, bytesRead).toString("utf8"), mtimeMs: stat.mtimeMs };
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code ?? "EUNKNOWN";
  } finally {
    await handle?.close();
  }
}
