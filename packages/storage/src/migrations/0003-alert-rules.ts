import type { WritableDb } from "../db.js";

/**
 * 0003: alert rules made through the API (`/api/v1/rules`); rules from the server TOML are not stored.
 *
 * - `id` is an AUTOINCREMENT rowid, so a deleted rule's id is never handed out again (a script holding
 *   an old id cannot edit a new rule by mistake).
 * - `name` is UNIQUE: alert history and state refer to rules by name.
 * - `spec` is the rule as written (JSON), validated by the alert engine before it is stored and again
 *   when the server loads it.
 */
export function migrate0003(db: WritableDb): void {
  db.exec(`
    CREATE TABLE alert_rules (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL UNIQUE,
      spec TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      updated_by TEXT NOT NULL
    );
  `);
}
