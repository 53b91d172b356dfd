import type Database from "better-sqlite3";
import type { WritableDb } from "./db.js";
import { StorageError } from "./storage-error.js";

/** An alert rule made through the API, as stored (migration 0003). Times are Unix ms. */
export interface StoredAlertRule {
  readonly id: number;
  readonly name: string;
  /** The rule as written (a JSON object). */
  readonly spec: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

interface RuleRow {
  id: number;
  name: string;
  spec: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

/** Statements, exported so the migration test can check their plans. */
export const ALERT_RULE_SQL = {
  all: "SELECT * FROM alert_rules ORDER BY name",
  byId: "SELECT * FROM alert_rules WHERE id = ?",
  insert:
    "INSERT INTO alert_rules (name, spec, created_at, updated_at, updated_by) VALUES (@name, @spec, @at, @at, @by)",
  update:
    "UPDATE alert_rules SET name = @name, spec = @spec, updated_at = @at, updated_by = @by WHERE id = @id",
  delete: "DELETE FROM alert_rules WHERE id = ?",
} as const;

/**
 * The `alert_rules` table: rules made through the API. Validation is the caller's (the alert engine's
 * `parseRule`); this table only refuses a second rule of the same name, with a `conflict` StorageError.
 */
export class AlertRuleTable {
  readonly #s: { [K in keyof typeof ALERT_RULE_SQL]: Database.Statement };

  constructor(db: WritableDb) {
    this.#s = {
      all: db.prepare(ALERT_RULE_SQL.all),
      byId: db.prepare(ALERT_RULE_SQL.byId),
      insert: db.prepare(ALERT_RULE_SQL.insert),
      update: db.prepare(ALERT_RULE_SQL.update),
      delete: db.prepare(ALERT_RULE_SQL.delete),
    };
  }

  /** Every stored rule, by name. */
  list(): StoredAlertRule[] {
    return (this.#s.all.all() as RuleRow[]).map(fromRow);
  }

  get(id: number): StoredAlertRule | undefined {
    const row = this.#s.byId.get(id) as RuleRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Stores a new rule; returns it with its id. */
  insert(name: string, spec: Readonly<Record<string, unknown>>, nowMs: number, by: string): StoredAlertRule {
    const info = uniqueName(name, () =>
      this.#s.insert.run({ name, spec: JSON.stringify(spec), at: nowMs, by }),
    );
    return this.get(Number(info.lastInsertRowid)) as StoredAlertRule;
  }

  /** Replaces a rule's name and spec; undefined when there is no rule `id`. */
  update(
    id: number,
    name: string,
    spec: Readonly<Record<string, unknown>>,
    nowMs: number,
    by: string,
  ): StoredAlertRule | undefined {
    const info = uniqueName(name, () =>
      this.#s.update.run({ id, name, spec: JSON.stringify(spec), at: nowMs, by }),
    );
    return info.changes === 0 ? undefined : this.get(id);
  }

  /** Deletes a rule; false when there was none. */
  delete(id: number): boolean {
    return this.#s.delete.run(id).changes > 0;
  }
}

function uniqueName(name: string, write: () => Database.RunResult): Database.RunResult {
  try {
    return write();
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "SQLITE_CONSTRAINT_UNIQUE")
      throw new StorageError("conflict", `an API rule named ${JSON.stringify(name)} already exists`);
    throw err;
  }
}

function fromRow(row: RuleRow): StoredAlertRule {
  return {
    id: row.id,
    name: row.name,
    spec: JSON.parse(row.spec) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}
