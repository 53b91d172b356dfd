import type { WritableDb } from "../db.js";

/**
 * 0001: the first catalog schema.
 *
 * Why each shape:
 * - `agent_keys` and `enroll_tokens` are looked up by hash on every connection and enrolment, so the hash
 *   is the primary key of a WITHOUT ROWID table: one B-tree search, no second lookup.
 * - `api_tokens.id` is AUTOINCREMENT because ids appear in URLs (`DELETE /tokens/:id`) and must never be
 *   reused; `hash` has its own unique index for the per-request lookup.
 * - `series.id` is AUTOINCREMENT because sample files refer to it: a reused id would hand old samples to a
 *   new series. `series_key` is the get-or-create lookup (and the uniqueness rule); `series_metric` serves
 *   "this metric on every agent".
 * - No foreign keys to `agents`: keys are issued at enrolment and series on the first batch, and neither
 *   order is guaranteed to follow the agent's first hello; orphans are harmless and a later migration can
 *   add the references once the server's order is settled.
 * - Not STRICT tables, so sqlite3 shells older than 3.37 can still open the file.
 * Secrets are stored only as the hashes the server computed; this file never sees a plain secret.
 */
export function migrate0001(db: WritableDb): void {
  db.exec(`
    CREATE TABLE agents (
      id TEXT PRIMARY KEY NOT NULL,
      hostname TEXT NOT NULL,
      version TEXT NOT NULL,
      labels TEXT NOT NULL DEFAULT '{}',
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL
    );

    CREATE TABLE agent_keys (
      hash TEXT PRIMARY KEY NOT NULL,
      agent_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX agent_keys_agent ON agent_keys (agent_id);

    CREATE TABLE api_tokens (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
      hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_used_at INTEGER,
      revoked_at INTEGER
    );
    CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash);

    CREATE TABLE enroll_tokens (
      hash TEXT PRIMARY KEY NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      used_at INTEGER,
      used_by TEXT
    ) WITHOUT ROWID;

    CREATE TABLE series (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      agent_id TEXT NOT NULL,
      metric TEXT NOT NULL,
      labels TEXT NOT NULL
    );
    CREATE UNIQUE INDEX series_key ON series (agent_id, metric, labels);
    CREATE INDEX series_metric ON series (metric);
  `);
}
