import type { WritableDb } from "../db.js";

/**
 * 0002: alert state, acknowledgements and history, so a server restart neither loses nor re-sends
 * firing alerts.
 *
 * Why each shape:
 * - `alert_state` holds only pending and firing alerts, keyed by fingerprint (WITHOUT ROWID: the key is
 *   the lookup). It is read whole once at start and written on transitions, so it stays small.
 *   `series_labels` (canonical JSON) lets the engine find the (rule, series) binding again.
 * - `alert_acks` is separate because an acknowledgement has its own lifetime (set and withdrawn while
 *   the alert stays firing); it is deleted with the alert's state.
 * - `alert_history` is append-only with an AUTOINCREMENT id, so (at, id) is a stable keyset for
 *   pagination newest first. The indexes end in (at) so every filter combination the API offers
 *   (none, agent, severity) is an index range scan in time order; the rowid rides along in each index.
 * - `value` is NULL for NaN (SQLite has no NaN).
 */
export function migrate0002(db: WritableDb): void {
  db.exec(`
    CREATE TABLE alert_state (
      fingerprint TEXT PRIMARY KEY NOT NULL,
      rule TEXT NOT NULL,
      kind TEXT NOT NULL,
      severity TEXT NOT NULL,
      agent_id TEXT NOT NULL,
      metric TEXT,
      series_labels TEXT NOT NULL,
      labels TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'firing')),
      active_at INTEGER NOT NULL,
      fired_at INTEGER NOT NULL,
      last_sent_at INTEGER NOT NULL,
      keep_firing_since INTEGER,
      value REAL
    ) WITHOUT ROWID;

    CREATE TABLE alert_acks (
      fingerprint TEXT PRIMARY KEY NOT NULL,
      acked_by TEXT NOT NULL,
      comment TEXT NOT NULL,
      acked_at INTEGER NOT NULL,
      expires_at INTEGER
    ) WITHOUT ROWID;

    CREATE TABLE alert_history (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      type TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      rule TEXT NOT NULL,
      kind TEXT NOT NULL,
      severity TEXT NOT NULL,
      agent_id TEXT NOT NULL,
      metric TEXT,
      labels TEXT NOT NULL,
      annotations TEXT NOT NULL,
      value REAL,
      active_at INTEGER NOT NULL,
      fired_at INTEGER NOT NULL,
      resolved_at INTEGER,
      reason TEXT,
      acked_by TEXT,
      comment TEXT,
      expires_at INTEGER
    );
    CREATE INDEX alert_history_at ON alert_history (at);
    CREATE INDEX alert_history_agent ON alert_history (agent_id, at);
    CREATE INDEX alert_history_severity ON alert_history (severity, at);
  `);
}
