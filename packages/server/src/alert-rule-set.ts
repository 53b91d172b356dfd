import { isRuleError, parseRule, type Rule, type RuleError } from "@vigil/alerts";
import type { Logger } from "@vigil/common";
import { type Catalog, isStorageError, type StoredAlertRule } from "@vigil/storage";

/** Where a rule comes from: the server TOML (read-only over the API) or the API (stored in vigil.db). */
export type RuleSource = "config" | "api";

/** A rule as the API shows it. */
export interface RuleEntry {
  /** API rules: their row id as a string ("12"); config rules: "config:" + name. */
  readonly id: string;
  readonly source: RuleSource;
  readonly rule: Rule;
  readonly stored: StoredAlertRule | undefined;
}

/** Why a rule change was refused; `code` maps to an HTTP status at the API. */
export class RuleChangeError extends Error {
  override readonly name = "RuleChangeError";
  constructor(
    readonly code: "invalid_rule" | "conflict" | "read_only" | "not_found",
    message: string,
    /** For `invalid_rule`: the engine's error, naming rule and field. */
    readonly ruleError?: RuleError,
  ) {
    super(message);
  }
}

export function isRuleChangeError(value: unknown): value is RuleChangeError {
  return value instanceof Error && value.name === "RuleChangeError";
}

const CONFIG_ID_PREFIX = "config:";

/**
 * The rules in force: the server TOML's `[[alert.rules]]` (replaced on SIGHUP) plus the rules made
 * through the API (kept in `vigil.db`). Names are unique across both, since alert state and history
 * refer to rules by name. Every change is validated by the alert engine's parser, stored, and then
 * handed to `apply` (the engine's `setRules`, which keeps the state of unchanged rules).
 */
export class AlertRuleSet {
  #config: readonly Rule[];
  /** API rules that parse, by row id. */
  readonly #api = new Map<number, { stored: StoredAlertRule; rule: Rule }>();
  #apply: (rules: readonly Rule[]) => void = () => {};

  private constructor(
    private readonly catalog: Catalog,
    config: readonly Rule[],
    private readonly logger: Logger,
  ) {
    this.#config = config;
  }

  /**
   * Loads the API rules from the catalog. A stored rule that no longer validates (e.g. after an upgrade
   * made validation stricter) is logged and left out, not fatal: it can be fixed with PUT. A stored
   * rule named like a config rule is left out too (the config wins), with an error log.
   */
  static load(catalog: Catalog, config: readonly Rule[], logger: Logger): AlertRuleSet {
    const set = new AlertRuleSet(catalog, config, logger);
    const configNames = new Set(config.map((r) => r.name));
    for (const stored of catalog.alertRules.list()) {
      try {
        const rule = parseRule(stored.spec);
        if (configNames.has(rule.name)) {
          logger.error(
            { id: stored.id, rule: rule.name },
            "an API rule has the name of a rule in the config file; the config's rule is used, rename one of them",
          );
          continue;
        }
        set.#api.set(stored.id, { stored, rule });
      } catch (err) {
        logger.error(
          { id: stored.id, rule: stored.name, err: err instanceof Error ? err.message : String(err) },
          "a stored API rule is invalid and is not evaluated; fix it with PUT /api/v1/rules/:id",
        );
      }
    }
    return set;
  }

  /** Where changes go (the alert engine); called once at wiring time. */
  onChange(apply: (rules: readonly Rule[]) => void): void {
    this.#apply = apply;
  }

  /** Every rule in force, config rules first. */
  all(): Rule[] {
    return [...this.#config, ...[...this.#api.values()].map((a) => a.rule)];
  }

  entries(): RuleEntry[] {
    return [
      ...this.#config.map((rule) => ({
        id: CONFIG_ID_PREFIX + rule.name,
        source: "config" as const,
        rule,
        stored: undefined,
      })),
      ...[...this.#api.entries()]
        .sort(([, a], [, b]) => (a.rule.name < b.rule.name ? -1 : a.rule.name > b.rule.name ? 1 : 0))
        .map(([id, a]) => ({ id: String(id), source: "api" as const, rule: a.rule, stored: a.stored })),
    ];
  }

  get(id: string): RuleEntry | undefined {
    return this.entries().find((e) => e.id === id);
  }

  /**
   * Swaps in the config's rules (SIGHUP). Throws when one is named like an API rule: the caller keeps
   * the old rules and logs why, as for any invalid config.
   */
  setConfigRules(rules: readonly Rule[]): void {
    const apiNames = new Map([...this.#api.entries()].map(([id, a]) => [a.rule.name, id]));
    for (const rule of rules) {
      const id = apiNames.get(rule.name);
      if (id !== undefined)
        throw new Error(
          `rule "${rule.name}" in the config file has the name of API rule ${id}; rename one of them`,
        );
    }
    this.#config = rules;
    this.#apply(this.all());
  }

  /** Validates and stores a new API rule; throws RuleChangeError. */
  create(spec: unknown, by: string, nowMs: number): RuleEntry {
    const rule = this.#parse(spec);
    this.#checkName(rule.name, undefined);
    const stored = this.#write(() => this.catalog.alertRules.insert(rule.name, rule.spec, nowMs, by));
    this.#api.set(stored.id, { stored, rule });
    this.#changed("created", stored, by);
    return { id: String(stored.id), source: "api", rule, stored };
  }

  /** Replaces an API rule; throws RuleChangeError (read_only for a config rule, not_found). */
  replace(id: string, spec: unknown, by: string, nowMs: number): RuleEntry {
    const rowId = this.#apiId(id);
    const rule = this.#parse(spec);
    this.#checkName(rule.name, rowId);
    const stored = this.#write(() => this.catalog.alertRules.update(rowId, rule.name, rule.spec, nowMs, by));
    if (!stored) throw new RuleChangeError("not_found", `no rule with id ${JSON.stringify(id)}`);
    this.#api.set(rowId, { stored, rule });
    this.#changed("replaced", stored, by);
    return { id, source: "api", rule, stored };
  }

  /** Deletes an API rule; its alerts resolve (the engine drops a removed rule's bindings). */
  remove(id: string, by: string): void {
    const rowId = this.#apiId(id);
    if (!this.catalog.alertRules.delete(rowId))
      throw new RuleChangeError("not_found", `no rule with id ${JSON.stringify(id)}`);
    const gone = this.#api.get(rowId);
    this.#api.delete(rowId);
    this.logger.info({ id: rowId, rule: gone?.rule.name, by }, "alert rule deleted");
    this.#apply(this.all());
  }

  #apiId(id: string): number {
    if (id.startsWith(CONFIG_ID_PREFIX)) {
      if (this.#config.some((r) => CONFIG_ID_PREFIX + r.name === id))
        throw new RuleChangeError(
          "read_only",
          `rule ${JSON.stringify(id.slice(CONFIG_ID_PREFIX.length))} comes from the config file; edit the file and send SIGHUP`,
        );
      throw new RuleChangeError("not_found", `no rule with id ${JSON.stringify(id)}`);
    }
    const rowId = /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : Number.NaN;
    // Stored rules that failed to load are still editable: look in the table, not only the map.
    if (!Number.isSafeInteger(rowId) || (!this.#api.has(rowId) && !this.catalog.alertRules.get(rowId)))
      throw new RuleChangeError("not_found", `no rule with id ${JSON.stringify(id)}`);
    return rowId;
  }

  #parse(spec: unknown): Rule {
    try {
      return parseRule(spec);
    } catch (err) {
      if (isRuleError(err)) throw new RuleChangeError("invalid_rule", err.message, err);
      throw err;
    }
  }

  #checkName(name: string, exceptId: number | undefined): void {
    if (this.#config.some((r) => r.name === name))
      throw new RuleChangeError(
        "conflict",
        `a rule named ${JSON.stringify(name)} is in the config file; pick another name`,
      );
    for (const [id, a] of this.#api)
      if (id !== exceptId && a.rule.name === name)
        throw new RuleChangeError("conflict", `API rule ${id} is already named ${JSON.stringify(name)}`);
  }

  #write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isStorageError(err) && err.code === "conflict") throw new RuleChangeError("conflict", err.message);
      throw err;
    }
  }

  #changed(what: "created" | "replaced", stored: StoredAlertRule, by: string): void {
    this.logger.info({ id: stored.id, rule: stored.name, by }, `alert rule ${what}`);
    this.#apply(this.all());
  }
}
