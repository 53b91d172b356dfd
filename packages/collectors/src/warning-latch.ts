import type { Logger } from "@vigil/common";

/** Something that kept a collector from reading everything this tick. */
export interface CollectProblem {
  /** Stable identity of the situation (e.g. `read:stat:ENOENT`), so a persisting one is not re-warned. */
  readonly key: string;
  /** Names the file, what is lost and what to do. */
  readonly message: string;
  /** Extra structured fields for the log line (e.g. the skipped lines). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Turns a collector's problems into at most ONE warning per tick, and only when the situation
 * changes: a file missing on every 1 s tick would otherwise write 86,400 identical lines a day.
 * Repeats go to debug; when the problems clear, one info line says so, and a later recurrence
 * warns again.
 */
export class WarningLatch {
  private lastKey: string | undefined;

  /** Call once at the end of every `collect()` with everything that went wrong (possibly nothing). */
  settle(logger: Logger, problems: readonly CollectProblem[]): void {
    if (problems.length === 0) {
      if (this.lastKey !== undefined) logger.info("reading fine again after the warning above");
      this.lastKey = undefined;
      return;
    }
    const key = problems.map((p) => p.key).join("|");
    const message = problems.map((p) => p.message).join("; ");
    const details = problems.map((p) => ({ key: p.key, ...p.details }));
    if (key === this.lastKey) {
      logger.debug({ problems: details }, `still: ${message}`);
      return;
    }
    this.lastKey = key;
    logger.warn({ problems: details }, message);
  }
}
