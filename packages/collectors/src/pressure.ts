import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { CounterDeltas } from "./counter-delta.js";
import { parseIssuesProblem } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import { isProcReadError } from "./procfs.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The resources the kernel reports stall information for, each a file under the procfs `pressure/`. */
export const PRESSURE_RESOURCES = ["cpu", "memory", "io"] as const;
export type PressureResource = (typeof PRESSURE_RESOURCES)[number];

/** One line of a PSI file: `some avg10=3.93 avg60=7.43 avg300=10.11 total=408709878`. */
export interface PressureLine {
  /** Share of wall time (percent) some/all tasks were stalled, averaged over 10, 60 and 300 s. */
  readonly avg10: number;
  readonly avg60: number;
  readonly avg300: number;
  /** Total stall time since boot, microseconds. */
  readonly totalUs: number;
}

/** What {@link parsePressure} understood of one PSI file. */
export interface Pressure {
  /** Some tasks stalled on the resource. */
  readonly some: PressureLine | undefined;
  /** All non-idle tasks stalled at once. Absent for `cpu` before Linux 5.13 (and all-zero there at system level). */
  readonly full: PressureLine | undefined;
  readonly issues: readonly ParseIssue[];
}

/** Parses one PSI file (`pressure/cpu`, `memory`, `io`). Pure, never throws; unknown line kinds are skipped. */
export function parsePressure(text: string): Pressure {
  const { lines, issues } = completeLines(text);
  let some: PressureLine | undefined;
  let full: PressureLine | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line === "") continue;
    const [kind, ...pairs] = line.trim().split(/\s+/);
    if (kind !== "some" && kind !== "full") continue;
    const values = new Map<string, string>();
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq > 0) values.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const avg = (key: string) => {
      const token = values.get(key);
      return token !== undefined && /^\d+(\.\d+)?$/.test(token) ? Number(token) : undefined;
    };
    const avg10 = avg("avg10");
    const avg60 = avg("avg60");
    const avg300 = avg("avg300");
    const totalUs = parseCount(values.get("total"));
    if (avg10 === undefined || avg60 === undefined || avg300 === undefined || totalUs === undefined) {
      issues.push(parseIssue(i + 1, line, "avg10=, avg60=, avg300= and total= expected"));
      continue;
    }
    const parsed = { avg10, avg60, avg300, totalUs };
    if (kind === "some") some ??= parsed;
    else full ??= parsed;
  }
  return { some, full, issues };
}

/** The metrics the `pressure` collector emits. */
export const PRESSURE_METRICS: readonly MetricDescriptor[] = [
  {
    name: "pressure_stall_percent",
    type: "gauge",
    unit: "percent",
    help: 'Share of wall time in the last 10 s that some (kind="some") or all non-idle (kind="full") tasks were stalled waiting for the resource (cpu, memory, io): the kernel\'s avg10.',
    labels: ["resource", "kind"],
    source: "/proc/pressure/{cpu,memory,io}",
  },
  {
    name: "pressure_stall_seconds_per_second",
    type: "gauge",
    unit: "seconds/s",
    help: "Seconds of stall per second of wall time since the previous reading, from the kernel's total counter (microseconds); 1 means stalled the whole time.",
    labels: ["resource", "kind"],
    source: "/proc/pressure/{cpu,memory,io}",
    nodeExporter:
      "rate(node_pressure_<resource>_waiting_seconds_total) (some), rate(node_pressure_<resource>_stalled_seconds_total) (full)",
  },
];

/** Errors that mean "this kernel has no PSI": not built in (ENOENT), or built in but booted with `psi=0` (EOPNOTSUPP). */
const NO_PSI_CODES = new Set(["ENOENT", "EOPNOTSUPP"]);

/**
 * Creates the `pressure` collector: pressure stall information (PSI, Linux 4.20+). On a kernel
 * without PSI it emits nothing and logs one info line (not a warning: there is nothing to fix but
 * the kernel), and again only if PSI appears and disappears. It takes no options.
 */
export function createPressureCollector(): Collector {
  const deltas = new CounterDeltas();
  const warnings = new WarningLatch();
  let reportedAbsent = false;

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const unreadable: { resource: PressureResource; code: string; path: string }[] = [];

    for (const resource of PRESSURE_RESOURCES) {
      const relPath = `pressure/${resource}`;
      let text: string;
      try {
        text = ctx.proc.read(relPath);
      } catch (error: unknown) {
        const code = isProcReadError(error) ? error.code : "EUNKNOWN";
        unreadable.push({
          resource,
          code,
          path: isProcReadError(error) ? error.path : ctx.proc.pathOf(relPath),
        });
        continue;
      }
      const pressure = parsePressure(text);
      if (pressure.issues.length > 0) {
        problems.push(
          parseIssuesProblem(
            ctx.proc,
            relPath,
            pressure.issues,
            `${resource} pressure on those lines is skipped`,
          ),
        );
      }
      for (const [kind, line] of [
        ["some", pressure.some],
        ["full", pressure.full],
      ] as const) {
        if (line === undefined) continue;
        const labels = { resource, kind };
        samples.push({ metric: "pressure_stall_percent", labels, value: line.avg10, ts: ctx.now });
        const delta = deltas.next(`${resource}:${kind}`, [line.totalUs], ctx.now);
        const stalledUs = delta?.deltas[0];
        if (delta && stalledUs !== undefined && delta.elapsedMs > 0) {
          samples.push({
            metric: "pressure_stall_seconds_per_second",
            labels,
            value: stalledUs / 1000 / delta.elapsedMs,
            ts: ctx.now,
          });
        }
      }
    }
    deltas.sweep();

    const absent =
      unreadable.length === PRESSURE_RESOURCES.length && unreadable.every((u) => NO_PSI_CODES.has(u.code));
    if (absent) {
      if (!reportedAbsent) {
        ctx.logger.info(
          { file: ctx.proc.pathOf("pressure"), code: unreadable[0]?.code },
          "this kernel reports no pressure stall information (needs Linux 4.20+ with CONFIG_PSI and without psi=0), so pressure metrics are not collected",
        );
        reportedAbsent = true;
      }
    } else {
      reportedAbsent = false;
      for (const u of unreadable) {
        problems.push({
          key: `read:pressure/${u.resource}:${u.code}`,
          message: `cannot read ${u.path} (${u.code}), so ${u.resource} pressure is not collected: check the agent's procfs root and permissions`,
          details: { file: u.path, code: u.code },
        });
      }
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "pressure", metrics: PRESSURE_METRICS, collect };
}
