import type { Logger } from "@vigil/common";
import { userVersion, type WritableDb } from "./db.js";
import { migrate0001 } from "./migrations/0001-initial.js";
import { migrate0002 } from "./migrations/0002-alerts.js";
import { migrate0003 } from "./migrations/0003-alert-rules.js";
import { StorageError } from "./storage-error.js";

/** One schema step: `up` runs inside the runner's transaction, which also bumps `user_version`. */
export interface Migration {
  readonly version: number;
  readonly slug: string;
  readonly up: (db: WritableDb) => void;
}

/** The catalog's migrations in order; a new one is a file `migrations/NNNN-slug.ts` added here. */
export const CATALOG_MIGRATIONS: readonly Migration[] = [
  { version: 1, slug: "initial", up: migrate0001 },
  { version: 2, slug: "alerts", up: migrate0002 },
  { version: 3, slug: "alert-rules", up: migrate0003 },
];

/** The `user_version` a fully migrated catalog has. */
export const CATALOG_SCHEMA_VERSION: number = CATALOG_MIGRATIONS.length;

export interface MigrateOptions {
  readonly logger?: Logger | undefined;
  /** Stop after this version (tests build every past version this way). Default: the latest. */
  readonly toVersion?: number | undefined;
  /** Default: `CATALOG_MIGRATIONS`. */
  readonly migrations?: readonly Migration[] | undefined;
  /** Names the file in messages. */
  readonly name?: string | undefined;
}

/**
 * Brings `db` from its `user_version` up to `toVersion`, one transaction per migration so a failure
 * leaves the file at the last good version. Each transaction is IMMEDIATE and re-reads `user_version`,
 * so two processes opening the same catalog at once (server and `vigil-server token create`) apply each
 * step once. Returns the versions applied.
 */
export function migrate(db: WritableDb, options: MigrateOptions = {}): number[] {
  const migrations = options.migrations ?? CATALOG_MIGRATIONS;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migration list is out of order: entry ${i} has version ${m.version}`);
  });
  const latest = migrations.length;
  const target = options.toVersion ?? latest;
  const name = options.name ?? "catalog";
  if (!Number.isInteger(target) || target < 0 || target > latest) {
    throw new StorageError(
      "invalid_argument",
      `cannot migrate ${name} to version ${target}: known versions are 0..${latest}`,
    );
  }
  const current = userVersion(db);
  if (current > latest) {
    throw new StorageError(
      "newer_schema",
      `${name} has schema version ${current} but this Vigil knows only up to ${latest}; run a newer Vigil or restore a backup`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version > target) break;
    if (m.version <= current) continue;
    const step = db.transaction(() => {
      if (userVersion(db) >= m.version) return false;
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    if (step.immediate()) {
      applied.push(m.version);
      options.logger?.info({ version: m.version, migration: m.slug }, `${name} migrated`);
    }
  }
  return applied;
}
