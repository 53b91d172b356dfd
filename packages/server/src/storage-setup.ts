import type { Logger } from "@vigil/common";
import {
  type ChunkedStorageEngine,
  type QuarantinedFile,
  quarantineBadDayFiles,
  RollupBuilder,
  RollupStore,
} from "@vigil/storage";
import { type StorageTasks, startStorageTasks } from "./periodic-tasks.js";
import { DEFAULT_STORAGE_SETTINGS, type StorageSettings } from "./storage-config.js";

export interface ServerStorageOptions {
  readonly dataDir: string;
  readonly settings: StorageSettings | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  /** Called per day file quarantined at start: the hook for an alert event (logged either way). */
  readonly onQuarantine?: ((file: QuarantinedFile) => void) | undefined;
}

/** What the server needs around the engine: rollups, their builder, and the periodic tasks. */
export interface ServerStorage {
  readonly rollups: RollupStore;
  readonly builder: RollupBuilder;
  /** Day files moved aside at start because they failed `quick_check`. */
  readonly quarantined: readonly QuarantinedFile[];
  /** Spread into `ChunkedStorageEngine.open`: retention, rollup queries, finalize-before-delete. */
  readonly engineOptions: {
    readonly retentionDays: number;
    readonly rollups: RollupStore;
    readonly beforeDeleteDayFile: (day: number, path: string) => boolean;
  };
  /** Starts rollups (every minute) and retention (hourly), both once now. */
  startTasks(engine: ChunkedStorageEngine): StorageTasks;
  /** Stops the tasks (waiting for a retention pass in progress); before the engine is closed. */
  stopTasks(): Promise<void>;
  /** Closes `rollups.db`; after the engine is closed. */
  close(): void;
}

/**
 * Runs before the engine opens: quarantines day files that fail `quick_check` (so the engine, which
 * opens every day file at start, is not stopped by one bad file), opens `rollups.db`, and prepares the
 * retention hook that finalizes a day's rollups before its file is deleted (and keeps the file when
 * that fails).
 */
export function prepareServerStorage(opts: ServerStorageOptions): ServerStorage {
  const settings = opts.settings ?? DEFAULT_STORAGE_SETTINGS;
  const { logger } = opts;
  const quarantined = quarantineBadDayFiles(opts.dataDir, {
    nowMs: opts.now(),
    logger,
    onQuarantine: opts.onQuarantine,
  });
  const rollups = RollupStore.open(opts.dataDir);
  const builder = new RollupBuilder({ dataDir: opts.dataDir, store: rollups, logger });
  let tasks: StorageTasks | undefined;
  logger.info(
    {
      retentionDays: settings.retentionDays,
      rollupRetentionDays: settings.rollupRetentionDays,
      minuteRollupRetentionDays: settings.minuteRollupRetentionDays,
      quarantined: quarantined.length,
    },
    "storage retention",
  );
  return {
    rollups,
    builder,
    quarantined,
    engineOptions: {
      retentionDays: settings.retentionDays,
      rollups,
      beforeDeleteDayFile: (day, path) => {
        try {
          builder.finalizeDay(day);
          return true;
        } catch (err) {
          logger.error({ err, path }, "rollups of a day file past retention failed; keeping the file");
          return false;
        }
      },
    },
    startTasks: (engine) => {
      tasks = startStorageTasks({ engine, builder, rollups, settings, logger, now: opts.now });
      return tasks;
    },
    stopTasks: async () => {
      await tasks?.stop();
    },
    close: () => rollups.close(),
  };
}
