import type { Logger } from "@vigil/common";
import type { ChunkedStorageEngine, RollupBuilder, RollupStore } from "@vigil/storage";
import type { StorageSettings } from "./storage-config.js";

/** Rollups are brought up to date this often (new sealed chunks). */
export const ROLLUP_INTERVAL_MS = 60_000;
/** Day files and rollups past retention are deleted this often (and once at start). */
export const RETENTION_INTERVAL_MS = 3_600_000;

export interface StorageTasksOptions {
  readonly engine: ChunkedStorageEngine;
  readonly builder: RollupBuilder;
  readonly rollups: RollupStore;
  readonly settings: StorageSettings;
  readonly logger: Logger;
  readonly now: () => number;
  /** Default `ROLLUP_INTERVAL_MS`; 0 = no timer (tests call `runRollups`). */
  readonly rollupIntervalMs?: number | undefined;
  /** Default `RETENTION_INTERVAL_MS`; 0 = no timer. */
  readonly retentionIntervalMs?: number | undefined;
}

export interface StorageTasks {
  /** One rollup pass now. */
  runRollups(): void;
  /** One retention pass now: day files (rollups finalized first), then old rollup rows. */
  runRetention(): Promise<void>;
  /** Stops the timers and waits for a retention pass in progress. */
  stop(): Promise<void>;
}

/**
 * The storage side of the server's periodic work: rollups every minute, retention every hour, both
 * once at start. A failing pass is logged and the next one tries again; passes never overlap.
 */
export function startStorageTasks(opts: StorageTasksOptions): StorageTasks {
  const { engine, builder, rollups, settings, logger, now } = opts;
  let retention: Promise<void> | undefined;
  let stopped = false;

  const runRollups = () => {
    if (stopped) return;
    try {
      const r = builder.run(now());
      if (r.finalized > 0 || r.failed > 0) logger.info({ ...r }, "rollups updated");
    } catch (err) {
      logger.error({ err }, "rollup pass failed; will retry");
    }
  };
  const retentionPass = async () => {
    const nowMs = now();
    try {
      const files = await engine.runRetention(nowMs);
      const rows = rollups.runRetention(
        nowMs,
        settings.minuteRollupRetentionDays,
        settings.rollupRetentionDays,
      );
      logger.info(
        {
          dayFilesDeleted: files.length,
          rollupRowsDeleted: rows,
          retentionDays: settings.retentionDays,
          rollupRetentionDays: settings.rollupRetentionDays,
        },
        "retention ran",
      );
    } catch (err) {
      logger.error({ err }, "retention pass failed; will retry");
    }
  };
  const runRetention = () => {
    if (stopped) return Promise.resolve();
    retention ??= retentionPass().finally(() => {
      retention = undefined;
    });
    return retention;
  };

  runRollups();
  void runRetention();
  const rollupMs = opts.rollupIntervalMs ?? ROLLUP_INTERVAL_MS;
  const retentionMs = opts.retentionIntervalMs ?? RETENTION_INTERVAL_MS;
  const timers = [
    rollupMs > 0 ? setInterval(runRollups, rollupMs) : undefined,
    retentionMs > 0 ? setInterval(() => void runRetention(), retentionMs) : undefined,
  ];
  for (const t of timers) t?.unref();
  return {
    runRollups,
    runRetention,
    stop: async () => {
      stopped = true;
      for (const t of timers) if (t) clearInterval(t);
      await retention;
    },
  };
}
