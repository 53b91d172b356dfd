import { ProcFs } from "@vigil/collectors";
import type { Logger, Sample } from "@vigil/common";
import type { ScheduledCollector } from "./scheduler.js";

/**
 * Reads every collector twice, `intervalMs` apart, so rate metrics exist, and returns the
 * second reading. What `vigil-agent collect --once` prints.
 */
export async function collectOnce(
  collectors: readonly ScheduledCollector[],
  roots: { readonly procfs: string; readonly sysfs: string },
  intervalMs: number,
  logger: Logger,
  now: () => number = Date.now,
): Promise<Sample[]> {
  const proc = new ProcFs(roots.procfs);
  const sys = new ProcFs(roots.sysfs);
  try {
    const read = (ts: number) =>
      Promise.all(
        collectors.map(({ collector }) =>
          collector.collect({ now: ts, proc, sys, logger: logger.child({ collector: collector.name }) }),
        ),
      );
    await read(now());
    await new Promise((r) => setTimeout(r, intervalMs));
    return (await read(now())).flat();
  } finally {
    proc.close();
    sys.close();
  }
}

/** One line per sample: `metric{a="1",b="2"} value`, as Prometheus text shows it. */
export function formatSampleText(s: Sample): string {
  const labels = Object.entries(s.labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
  return `${s.metric}${labels ? `{${labels}}` : ""} ${s.value}`;
}
