import type { Logger } from "@vigil/common";
import { migrateDayFile0001 } from "./day-file-migrations/0001-samples.js";
import { migrateDayFile0002 } from "./day-file-migrations/0002-chunks.js";
import type { WritableDb } from "./db.js";
import { type Migration, migrate } from "./migrate.js";

/**
 * The day files' (`samples/YYYY-MM-DD.db`) migrations in order, run by the catalog's runner (one
 * IMMEDIATE transaction per step, `user_version` bumped in it); a new one is a file
 * `day-file-migrations/NNNN-slug.ts` added here.
 */
export const DAY_FILE_MIGRATIONS: readonly Migration[] = [
  { version: 1, slug: "samples", up: migrateDayFile0001 },
  { version: 2, slug: "chunks", up: migrateDayFile0002 },
];

/** The `user_version` of a fully migrated day file. */
export const DAY_FILE_SCHEMA_VERSION: number = DAY_FILE_MIGRATIONS.length;

/**
 * Brings a day file up to `toVersion` (default: the latest); refuses a file of a newer version with
 * `newer_schema`. Returns the versions applied.
 */
export function migrateDayFile(
  db: WritableDb,
  path: string,
  options: { toVersion?: number | undefined; logger?: Logger | undefined } = {},
): number[] {
  return migrate(db, { migrations: DAY_FILE_MIGRATIONS, name: path, ...options });
}
