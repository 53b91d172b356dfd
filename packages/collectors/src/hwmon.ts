import type { MetricDescriptor, Sample } from "@vigil/common";
import type { CollectContext, Collector } from "./collector.js";
import { isProcReadError, type ProcFs } from "./procfs.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The hwmon class directory, relative to the sysfs root. */
const HWMON_DIR = "class/hwmon";

/**
 * A sysfs temperature: an integer in millidegrees Celsius (`45000\n`, `-5000\n` below zero), as
 * °C. Undefined for anything else (empty, truncated to nothing, text). Pure, never throws.
 */
export function parseMillidegrees(text: string): number | undefined {
  const token = text.trim();
  if (!/^-?\d{1,9}$/.test(token)) return undefined;
  return Number(token) / 1000;
}

/** A one-line sysfs attribute (`name`, `temp1_label`) without its newline; undefined when empty. */
export function parseSysfsText(text: string): string | undefined {
  const value = text.replace(/\n$/, "").trim();
  return value === "" ? undefined : value;
}

/** The sensor numbers with a `temp<N>_input` among a hwmon directory's entries, ascending. */
export function temperatureInputs(entries: readonly string[]): number[] {
  const numbers: number[] = [];
  for (const entry of entries) {
    const match = /^temp(\d+)_input$/.exec(entry);
    if (match?.[1] !== undefined) numbers.push(Number(match[1]));
  }
  return numbers.sort((a, b) => a - b);
}

/**
 * The device a hwmon directory belongs to, from its resolved sysfs path: the component before
 * `hwmon/hwmonN` or `hwmonN` (`…/nvme/nvme0/hwmon1` → `nvme0`, `…/platform/coretemp.0/hwmon/hwmon2`
 * → `coretemp.0`). Stable across reboots, unlike N. Pure.
 */
export function hwmonDeviceId(resolvedPath: string): string | undefined {
  const parts = resolvedPath.split("/").filter((p) => p !== "");
  let end = parts.length - 1;
  if (/^hwmon\d+$/.test(parts[end] ?? "")) end--;
  if (parts[end] === "hwmon") end--;
  return end >= 0 && end < parts.length - 1 ? parts[end] : undefined;
}

/** The metrics the `hwmon` collector emits. */
export const HWMON_METRICS: readonly MetricDescriptor[] = [
  {
    name: "hwmon_temperature_celsius",
    type: "gauge",
    unit: "celsius",
    help: 'Temperature of a hardware-monitoring sensor. chip is the driver\'s name (coretemp, nvme, acpitz …; "name/device" when two chips share a name), sensor its label (Core 0, Composite …) or tempN.',
    labels: ["chip", "sensor"],
    source: "/sys/class/hwmon/hwmon*/temp*_input",
    nodeExporter: "node_hwmon_temp_celsius",
  },
];

/** Read errors of one sensor that mean "the hardware has no reading now": not worth a warning. */
const NO_READING_CODES = new Set(["ENODATA", "EAGAIN", "EIO", "ENXIO", "ETIMEDOUT", "ENOENT"]);

interface Chip {
  /** `class/hwmon/hwmonN`, or its `device/` subdirectory for old drivers that keep the files there. */
  readonly dir: string;
  readonly entry: string;
  readonly name: string;
  readonly entries: readonly string[];
}

/**
 * Creates the `hwmon` collector: every `temp*_input` under the sysfs hwmon class. On a machine
 * without hwmon (most VMs and containers) it emits nothing and logs one info line. A sensor that
 * cannot be read now (ENODATA and the like, common for sleeping devices) is skipped silently.
 * It takes no options.
 */
export function createHwmonCollector(): Collector {
  const warnings = new WarningLatch();
  let reportedAbsent = false;

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    let entries: string[];
    try {
      entries = ctx.sys.list(HWMON_DIR);
    } catch (error: unknown) {
      const code = isProcReadError(error) ? error.code : "EUNKNOWN";
      if (code === "ENOENT") {
        if (!reportedAbsent) {
          ctx.logger.info(
            { file: ctx.sys.pathOf(HWMON_DIR) },
            `${ctx.sys.pathOf(HWMON_DIR)} does not exist (no hardware monitoring drivers, usual in VMs), so no temperatures are collected`,
          );
          reportedAbsent = true;
        }
      } else {
        problems.push({
          key: `list:${HWMON_DIR}:${code}`,
          message: `cannot list ${ctx.sys.pathOf(HWMON_DIR)} (${code}), so no temperatures are collected: check the agent's sysfs root and permissions`,
          details: { file: ctx.sys.pathOf(HWMON_DIR), code },
        });
      }
      warnings.settle(ctx.logger, problems);
      return samples;
    }
    reportedAbsent = false;

    const chips: Chip[] = [];
    for (const entry of entries.filter((e) => /^hwmon\d+$/.test(e)).sort(byHwmonNumber)) {
      const chip = readChip(ctx.sys, `${HWMON_DIR}/${entry}`, entry, problems);
      if (chip) chips.push(chip);
    }
    const nameCounts = new Map<string, number>();
    for (const chip of chips) nameCounts.set(chip.name, (nameCounts.get(chip.name) ?? 0) + 1);

    for (const chip of chips) {
      let chipLabel = chip.name;
      if ((nameCounts.get(chip.name) ?? 0) > 1) chipLabel = `${chip.name}/${deviceOf(ctx.sys, chip)}`;
      for (const n of temperatureInputs(chip.entries)) {
        let celsius: number | undefined;
        try {
          celsius = parseMillidegrees(ctx.sys.read(`${chip.dir}/temp${n}_input`));
        } catch (error: unknown) {
          const code = isProcReadError(error) ? error.code : "EUNKNOWN";
          if (!NO_READING_CODES.has(code)) {
            problems.push({
              key: `read:${chip.entry}/temp${n}_input:${code}`,
              message: `cannot read ${ctx.sys.pathOf(`${chip.dir}/temp${n}_input`)} (${code}), so that sensor is skipped: run the agent as a user allowed to read it`,
              details: { code },
            });
          }
          continue;
        }
        if (celsius === undefined) continue;
        let sensor = `temp${n}`;
        if (chip.entries.includes(`temp${n}_label`)) {
          try {
            sensor = parseSysfsText(ctx.sys.read(`${chip.dir}/temp${n}_label`)) ?? sensor;
          } catch {
            // An unreadable label only costs the nicer name; tempN still identifies the sensor.
          }
        }
        samples.push({
          metric: "hwmon_temperature_celsius",
          labels: { chip: chipLabel, sensor },
          value: celsius,
          ts: ctx.now,
        });
      }
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "hwmon", metrics: HWMON_METRICS, collect };
}

function byHwmonNumber(a: string, b: string): number {
  return Number(a.slice(5)) - Number(b.slice(5));
}

/**
 * A hwmon directory's name and entries. Drivers before Linux 3.x kept `name` and the sensor
 * files in `device/`; that layout is read too. A chip without any name is called `hwmonN`.
 */
function readChip(sys: ProcFs, dir: string, entry: string, problems: CollectProblem[]): Chip | undefined {
  let entries: string[];
  try {
    entries = sys.list(dir);
  } catch (error: unknown) {
    const code = isProcReadError(error) ? error.code : "EUNKNOWN";
    if (code !== "ENOENT") {
      problems.push({
        key: `list:${dir}:${code}`,
        message: `cannot list ${sys.pathOf(dir)} (${code}), so its temperatures are skipped`,
        details: { code },
      });
    }
    return undefined;
  }
  const nameIn = (d: string) => {
    try {
      return parseSysfsText(sys.read(`${d}/name`));
    } catch {
      // No name file: handled by the caller's fallbacks (device/ layout, then hwmonN).
      return undefined;
    }
  };
  if (temperatureInputs(entries).length === 0 && entries.includes("device")) {
    try {
      const deviceEntries = sys.list(`${dir}/device`);
      if (temperatureInputs(deviceEntries).length > 0) {
        const deviceDir = `${dir}/device`;
        return {
          dir: deviceDir,
          entry,
          name: nameIn(deviceDir) ?? nameIn(dir) ?? entry,
          entries: deviceEntries,
        };
      }
    } catch {
      // device/ is a link to the parent device; unreadable means no old-layout sensors there.
    }
  }
  return { dir, entry, name: nameIn(dir) ?? entry, entries };
}

/** The chip's device id for telling same-named chips apart, or `hwmonN` when the path cannot be resolved. */
function deviceOf(sys: ProcFs, chip: Chip): string {
  try {
    return hwmonDeviceId(sys.realPath(`${HWMON_DIR}/${chip.entry}`)) ?? chip.entry;
  } catch {
    // Not resolvable (a stub root, a vanished device): the hwmonN name still tells them apart this boot.
    return chip.entry;
  }
}
