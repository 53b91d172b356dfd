import { type MetricDescriptor, type Sample, zDurationMs } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { type CommandResult, describeFailure, firstLine, runCommand } from "./run-command.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** One unit as `systemctl list-units` describes it. */
export interface SystemdUnit {
  readonly unit: string;
  readonly load: string;
  readonly active: string;
  readonly sub: string;
  readonly description: string;
}

/** What a parser understood: the units, and whether the text was in its format at all. */
export interface SystemctlParse {
  readonly units: readonly SystemdUnit[];
  /** False when the text is not in the parser's format (e.g. a table given to the JSON parser). */
  readonly recognised: boolean;
  /** Entries or lines skipped as malformed. */
  readonly skipped: number;
}

/**
 * Parses `systemctl list-units --output=json` (systemd ≥ 246): one JSON array of
 * `{unit, load, active, sub, description}` objects. Entries without a string `unit` are skipped;
 * text that is not a JSON array is `recognised: false`; empty text is no units. Pure, never throws.
 */
export function parseSystemctlJson(text: string): SystemctlParse {
  // systemd prints nothing at all, rather than [], on some versions when no unit matches.
  if (text.trim() === "") return { units: [], recognised: true, skipped: 0 };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Not JSON: older systemd ignores --output=json for list-units and prints the table.
    return { units: [], recognised: false, skipped: 0 };
  }
  if (!Array.isArray(data)) return { units: [], recognised: false, skipped: 0 };
  const units: SystemdUnit[] = [];
  let skipped = 0;
  for (const entry of data as unknown[]) {
    if (
      typeof entry !== "object" ||
      entry === null ||
      typeof (entry as { unit?: unknown }).unit !== "string"
    ) {
      skipped++;
      continue;
    }
    const e = entry as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === "string" ? v : "");
    const unit = str(e.unit);
    if (unit === "") {
      skipped++;
      continue;
    }
    units.push({
      unit,
      load: str(e.load),
      active: str(e.active),
      sub: str(e.sub),
      description: str(e.description),
    });
  }
  return { units, recognised: true, skipped };
}

/**
 * Parses `systemctl list-units --plain --no-legend`: one unit per line, `UNIT LOAD ACTIVE SUB
 * DESCRIPTION…` separated by runs of spaces, the description keeping its inner spaces. A leading
 * `●` or `*` (printed by versions that ignore `--plain` for failed units) is dropped. Lines with
 * fewer than four columns, or an ACTIVE column that is not a systemd state, are skipped. Pure, never throws.
 */
export function parseSystemctlPlain(text: string): SystemctlParse {
  const units: SystemdUnit[] = [];
  let skipped = 0;
  for (const raw of text.split("\n")) {
    // "\u25CF" is "●": escaped so the agent bundle stays ASCII (V8 keeps an ASCII script's source at one byte a character).
    const line = raw.trim().replace(/^(\u25CF|\*)\s+/, "");
    if (line === "") continue;
    const match = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!match) {
      skipped++;
      continue;
    }
    const [, unit = "", load = "", active = "", sub = "", description = ""] = match;
    if (!ACTIVE_STATES.has(active)) {
      skipped++;
      continue;
    }
    units.push({ unit, load, active, sub, description: description.trim() });
  }
  return { units, recognised: true, skipped };
}

/** systemd's unit ACTIVE states (`systemctl --state=help`); a row with another value there is not a unit row. */
const ACTIVE_STATES = new Set([
  "active",
  "reloading",
  "inactive",
  "failed",
  "activating",
  "deactivating",
  "maintenance",
  "refreshing",
]);

/** The metrics the `systemd` collector emits. */
export const SYSTEMD_METRICS: readonly MetricDescriptor[] = [
  {
    name: "systemd_units_failed",
    type: "gauge",
    unit: "1",
    help: "Units systemd lists in the failed state (`systemctl list-units --state=failed`).",
    labels: [],
    source: "systemctl list-units --state=failed",
    nodeExporter: 'count(node_systemd_unit_state{state="failed"} == 1)',
  },
  {
    name: "systemd_unit_failed",
    type: "gauge",
    unit: "1",
    help: "1 for each failed unit; a unit that recovers stops being reported.",
    labels: ["unit"],
    source: "systemctl list-units --state=failed",
    nodeExporter: 'node_systemd_unit_state{state="failed"}',
  },
];

export interface SystemdOptions {
  /** The systemctl program: a name looked up in PATH, or a path. */
  readonly systemctl_path: string;
  /** Milliseconds one systemctl run may take before it is killed. */
  readonly timeout: number;
}

export const SYSTEMD_DEFAULT_OPTIONS: SystemdOptions = { systemctl_path: "systemctl", timeout: 5_000 };

/** `[collectors.systemd]` keys besides enabled/interval. */
export const SYSTEMD_OPTIONS = z.strictObject({
  systemctl_path: z.string().min(1).default(SYSTEMD_DEFAULT_OPTIONS.systemctl_path),
  timeout: zDurationMs({ minMs: 100, maxMs: 600_000 }).default(SYSTEMD_DEFAULT_OPTIONS.timeout),
});

const BASE_ARGS = ["list-units", "--state=failed", "--no-pager"];
const JSON_ARGS = [...BASE_ARGS, "--output=json"];
const PLAIN_ARGS = [...BASE_ARGS, "--plain", "--no-legend"];

/** stderr of a systemctl that will never work on this machine: stop asking. */
const NOT_SYSTEMD_RE = /has not been booted with systemd|systemd is not running|not booted with systemd/i;
/** stderr of a systemctl too old for JSON output. */
const NO_JSON_RE = /unknown output|invalid output|unrecognized option|unknown option/i;

/**
 * Creates the `systemd` collector: the failed units, from `systemctl list-units --state=failed`.
 * It asks for JSON first; when systemctl answers in another format or refuses the option (systemd
 * before 246), it parses the plain table from then on. Without systemctl, or on a machine not booted
 * with systemd, it logs one info line and emits nothing from then on.
 */
export function createSystemdCollector(options: Partial<SystemdOptions> = {}): Collector {
  const { systemctl_path: program, timeout } = { ...SYSTEMD_DEFAULT_OPTIONS, ...options };
  const warnings = new WarningLatch();
  let useJson = true;
  let disabled = false;

  async function run(args: readonly string[]): Promise<CommandResult> {
    return runCommand([program, ...args], { timeoutMs: timeout, stdoutCapBytes: 4 * 1024 * 1024 });
  }

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    if (disabled) return [];
    const problems: CollectProblem[] = [];
    let result = await run(useJson ? JSON_ARGS : PLAIN_ARGS);
    let parsed: SystemctlParse | undefined;

    if (result.spawnError === "ENOENT" || NOT_SYSTEMD_RE.test(result.stderr)) {
      disabled = true;
      ctx.logger.info(
        { systemctl: program, reason: result.spawnError ?? firstLine(result.stderr) },
        result.spawnError
          ? `${program} not found: this machine does not run systemd, so the systemd collector stops (set collectors.systemd.systemctl_path if systemctl lives elsewhere)`
          : `${firstLine(result.stderr)}: the systemd collector stops (set collectors.systemd.enabled = false to silence this line)`,
      );
      return [];
    }

    if (useJson && !result.spawnError && !result.timedOut && !result.truncated) {
      const json = result.exitCode === 0 ? parseSystemctlJson(result.stdout) : undefined;
      if (json?.recognised) {
        parsed = json;
      } else if (result.exitCode !== 0 ? NO_JSON_RE.test(result.stderr) : true) {
        // Too old for JSON: remember, and read the table instead, this tick and every later one.
        useJson = false;
        ctx.logger.info(
          { systemctl: program },
          `${program} does not print list-units as JSON (systemd before 246); reading its plain table instead`,
        );
        result = await run(PLAIN_ARGS);
      }
    }

    if (!parsed) {
      if (result.exitCode === 0 && !result.timedOut && !result.truncated) {
        parsed = useJson ? parseSystemctlJson(result.stdout) : parseSystemctlPlain(result.stdout);
      } else {
        problems.push({
          key: `run:${result.spawnError ?? (result.timedOut ? "timeout" : (result.signal ?? result.exitCode))}`,
          message: `${describeFailure(program, result, timeout)}, so systemd metrics are not collected: check that the agent's user may run \`${program} list-units\``,
        });
      }
    }

    const samples: Sample[] = [];
    if (parsed) {
      if (parsed.skipped > 0) {
        problems.push({
          key: "parse:skipped",
          message: `skipped ${parsed.skipped} unit(s) of ${program} list-units output that were not in the expected format; they are not counted`,
        });
      }
      const failed = [...new Set(parsed.units.map((u) => u.unit))].sort();
      samples.push({ metric: "systemd_units_failed", labels: {}, value: failed.length, ts: ctx.now });
      for (const unit of failed)
        samples.push({ metric: "systemd_unit_failed", labels: { unit }, value: 1, ts: ctx.now });
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "systemd", metrics: SYSTEMD_METRICS, collect };
}
