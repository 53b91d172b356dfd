import { DEFAULT_WAL_MAX_BYTES, type Durability } from "@vigil/storage";
import { z } from "zod";

/** Raw day files are kept this many whole UTC days before today (the key `[storage] retention_days`). */
export const DEFAULT_RETENTION_DAYS = 15;
/** 1-hour rollups are kept this long (`[storage] rollup_retention_days`). */
export const DEFAULT_ROLLUP_RETENTION_DAYS = 400;
/**
 * 1-minute rollups are kept this long (not a key: 35 days of 1-minute rows is about 50,000 rows per
 * series; longer ranges read 1-hour rows), or `rollup_retention_days` when that is shorter.
 */
export const MINUTE_ROLLUP_RETENTION_DAYS = 35;

/** `[storage] wal_max_bytes` bounds: below 1 MiB nearly every commit would checkpoint. */
const MIN_WAL_MAX_BYTES = 1024 * 1024;
const MAX_WAL_MAX_BYTES = 4 * 1024 * 1024 * 1024;

/** `[storage]` of the server config (docs/configuration.md). */
export const storageSection = z
  .strictObject({
    retention_days: z.number().int().min(1).max(36_500).default(DEFAULT_RETENTION_DAYS),
    rollup_retention_days: z.number().int().min(1).max(36_500).default(DEFAULT_ROLLUP_RETENTION_DAYS),
    durability: z.enum(["process", "power"]).default("process"),
    wal_max_bytes: z
      .number()
      .int()
      .min(MIN_WAL_MAX_BYTES)
      .max(MAX_WAL_MAX_BYTES)
      .default(DEFAULT_WAL_MAX_BYTES),
  })
  .refine((s) => s.rollup_retention_days >= s.retention_days, {
    path: ["rollup_retention_days"],
    message: "must be at least retention_days (rollups outlive the raw day files they summarise)",
  });

/** Retention, as the server uses it. */
export interface StorageSettings {
  readonly retentionDays: number;
  readonly rollupRetentionDays: number;
  readonly minuteRollupRetentionDays: number;
  /** `[storage] durability`: "process" (synchronous=NORMAL) or "power" (synchronous=FULL). */
  readonly durability: Durability;
  /** `[storage] wal_max_bytes`: cap of each day file's `-wal`. */
  readonly walMaxBytes: number;
}

export function storageSettingsFrom(section: z.output<typeof storageSection>): StorageSettings {
  return {
    retentionDays: section.retention_days,
    rollupRetentionDays: section.rollup_retention_days,
    minuteRollupRetentionDays: Math.min(MINUTE_ROLLUP_RETENTION_DAYS, section.rollup_retention_days),
    durability: section.durability,
    walMaxBytes: section.wal_max_bytes,
  };
}

/** The settings a config without `[storage]` gets. */
export const DEFAULT_STORAGE_SETTINGS: StorageSettings = storageSettingsFrom(storageSection.parse({}));
