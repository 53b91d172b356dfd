import { mkdirSync } from "node:fs";
import { canonicalLabels, type Labels, type Logger } from "@vigil/common";
import type Database from "better-sqlite3";
import { AlertRuleTable } from "./alert-rule-table.js";
import { AlertTables } from "./alert-tables.js";
import type { AgentRecord, ApiTokenRecord, EnrollTokenRefusal, TokenRole } from "./catalog-types.js";
import { catalogPath } from "./data-dir-layout.js";
import { openWritableDb, type WritableDb } from "./db.js";
import { migrate } from "./migrate.js";
import type { SeriesInfo } from "./storage-engine.js";
import { StorageError } from "./storage-error.js";

/**
 * The hot statements, exported so the migration test can check with EXPLAIN QUERY PLAN that each
 * one searches the index it was written for.
 */
export const CATALOG_SQL = {
  agentForKeyHash: "SELECT agent_id FROM agent_keys WHERE hash = ? AND revoked_at IS NULL",
  apiTokenForHash: "SELECT id, name, role, created_at FROM api_tokens WHERE hash = ? AND revoked_at IS NULL",
  seriesIdByKey: "SELECT id FROM series WHERE agent_id = ? AND metric = ? AND labels = ?",
  seriesByAgentMetric:
    "SELECT id, agent_id, metric, labels FROM series WHERE agent_id = ? AND metric = ? ORDER BY labels",
  seriesByAgent: "SELECT id, agent_id, metric, labels FROM series WHERE agent_id = ? ORDER BY metric, labels",
  seriesByMetric:
    "SELECT id, agent_id, metric, labels FROM series WHERE metric = ? ORDER BY agent_id, labels",
  enrollTokenByHash: "SELECT expires_at, used_at FROM enroll_tokens WHERE hash = ?",
} as const;

/** What the agent said in its hello. */
export interface AgentHello {
  readonly id: string;
  readonly hostname: string;
  readonly version: string;
  readonly labels: Labels;
  /** Unix ms. */
  readonly seenAt: number;
}

/** The outcome of `consumeEnrollToken`. */
export type EnrollTokenResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: EnrollTokenRefusal };

interface AgentRow {
  id: string;
  hostname: string;
  version: string;
  labels: string;
  first_seen: number;
  last_seen: number;
}

interface ApiTokenRow {
  id: number;
  name: string;
  role: TokenRole;
  created_at: number;
}

interface SeriesRow {
  id: number;
  agent_id: string;
  metric: string;
  labels: string;
}

const AGENT_COLUMNS = "id, hostname, version, labels, first_seen, last_seen";

/**
 * `data_dir/vigil.db`: agents, their keys, API and enrolment tokens, and the series catalog (one integer
 * id per agent + metric + labels, which sample files store instead of names).
 *
 * Every method is synchronous (better-sqlite3 is), and each write is one transaction. Secrets arrive
 * already hashed by the server. The catalog may be open in two processes at once (the server and a
 * `vigil-server token create`): WAL and `busy_timeout` make that safe.
 */
export class Catalog {
  readonly path: string;
  /** Alert state, acknowledgements and history (migration 0002). */
  readonly alerts: AlertTables;
  /** Alert rules made through the API (migration 0003). */
  readonly alertRules: AlertRuleTable;
  readonly #db: WritableDb;
  readonly #logger: Logger | undefined;
  /** agent → fast series key → id (bounded); series are never deleted, so entries never go stale. */
  readonly #seriesIds: SeriesIdCache;
  readonly #stmt: ReturnType<typeof prepareStatements>;
  readonly #consumeTx: Database.Transaction<
    (hash: string, agentId: string, nowMs: number) => EnrollTokenResult
  >;

  private constructor(path: string, db: WritableDb, logger: Logger | undefined, seriesCacheSize: number) {
    this.path = path;
    this.#seriesIds = new SeriesIdCache(seriesCacheSize);
    this.#db = db;
    this.#logger = logger;
    this.alerts = new AlertTables(db);
    this.alertRules = new AlertRuleTable(db);
    const stmt = prepareStatements(db);
    this.#stmt = stmt;
    this.#consumeTx = db.transaction((hash: string, agentId: string, nowMs: number): EnrollTokenResult => {
      const row = stmt.enrollTokenByHash.get(hash) as
        | { expires_at: number; used_at: number | null }
        | undefined;
      if (!row) return { ok: false, reason: "unknown" };
      if (row.used_at !== null) return { ok: false, reason: "used" };
      if (nowMs >= row.expires_at) return { ok: false, reason: "expired" };
      // The guard in the UPDATE makes "used at most once" hold even if the read above were stale.
      if (stmt.useEnrollToken.run(nowMs, agentId, hash).changes !== 1) return { ok: false, reason: "used" };
      return { ok: true };
    });
  }

  /**
   * Opens `data_dir/vigil.db`, creating the folder and file if needed, and applies missing migrations.
   * `options.seriesCacheSize` bounds the in-memory series-id cache (default `DEFAULT_SERIES_CACHE_SIZE`).
   */
  static open(dataDir: string, logger?: Logger, options: { seriesCacheSize?: number } = {}): Catalog {
    const cacheSize = options.seriesCacheSize ?? DEFAULT_SERIES_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 2)
      throw new StorageError("invalid_argument", `seriesCacheSize must be an integer >= 2, not ${cacheSize}`);
    mkdirSync(dataDir, { recursive: true });
    const path = catalogPath(dataDir);
    const db = openWritableDb(path, { create: true, foreignKeys: true });
    try {
      migrate(db, { logger, name: path });
    } catch (err) {
      db.close();
      throw err;
    }
    return new Catalog(path, db, logger, cacheSize);
  }

  /** Closes the file. Later calls throw. */
  close(): void {
    if (!this.#db.open) return;
    this.#db.close();
    this.#logger?.debug({ path: this.path }, "catalog closed");
  }

  // ── agents ────────────────────────────────────────────────────────────────

  /** Records an agent's hello: creates the agent, or updates hostname/version/labels keeping `firstSeen`. */
  upsertAgent(hello: AgentHello): AgentRecord {
    const row = this.#stmt.upsertAgent.get({
      id: hello.id,
      hostname: hello.hostname,
      version: hello.version,
      labels: canonicalLabels(hello.labels),
      seenAt: hello.seenAt,
    }) as AgentRow;
    return toAgentRecord(row);
  }

  /**
   * Moves `lastSeen` forward to `seenAt` (never backwards, so a late or reordered call cannot make an
   * agent look older). Returns false when the agent is unknown.
   */
  touchAgent(id: string, seenAt: number): boolean {
    return this.#stmt.touchAgent.run(seenAt, id).changes > 0;
  }

  getAgent(id: string): AgentRecord | undefined {
    const row = this.#stmt.getAgent.get(id) as AgentRow | undefined;
    return row && toAgentRecord(row);
  }

  /** Every agent, by id. */
  listAgents(): AgentRecord[] {
    return (this.#stmt.listAgents.all() as AgentRow[]).map(toAgentRecord);
  }

  // ── agent keys ────────────────────────────────────────────────────────────

  /** Stores the hash of an API key issued to an agent at enrolment. */
  addAgentKey(agentId: string, keyHash: string, createdAt: number): void {
    try {
      this.#stmt.addAgentKey.run(keyHash, agentId, createdAt);
    } catch (err) {
      if (isConstraintError(err))
        throw new StorageError("invalid_argument", "this agent key hash is already stored");
      throw err;
    }
  }

  /** The agent an API key hash belongs to; `undefined` for unknown or revoked keys. */
  agentForKeyHash(keyHash: string): string | undefined {
    return this.#stmt.agentForKeyHash.get(keyHash) as string | undefined;
  }

  /** Revokes every key of an agent (`DELETE /agents/:id`). Returns how many keys were still active. */
  revokeAgentKeys(agentId: string, revokedAt: number): number {
    return this.#stmt.revokeAgentKeys.run(revokedAt, agentId).changes;
  }

  // ── API tokens ────────────────────────────────────────────────────────────

  /** Stores a new API token (by its hash) and returns its record. */
  createApiToken(input: { name: string; role: TokenRole; hash: string; createdAt: number }): ApiTokenRecord {
    if (input.role !== "admin" && input.role !== "viewer") {
      throw new StorageError(
        "invalid_argument",
        `token role must be "admin" or "viewer", not "${String(input.role)}"`,
      );
    }
    try {
      const id = this.#stmt.createApiToken.get(input.name, input.role, input.hash, input.createdAt) as number;
      return { id, name: input.name, role: input.role, createdAt: input.createdAt };
    } catch (err) {
      if (isConstraintError(err))
        throw new StorageError("invalid_argument", "this API token hash is already stored");
      throw err;
    }
  }

  /** The token a hash belongs to; `undefined` for unknown or revoked tokens. */
  apiTokenForHash(hash: string): ApiTokenRecord | undefined {
    const row = this.#stmt.apiTokenForHash.get(hash) as ApiTokenRow | undefined;
    return row && toApiTokenRecord(row);
  }

  /** Active (not revoked) tokens, by id. */
  listApiTokens(): ApiTokenRecord[] {
    return (this.#stmt.listApiTokens.all() as ApiTokenRow[]).map(toApiTokenRecord);
  }

  /** How many active (not revoked) tokens exist. */
  countApiTokens(): number {
    return this.#stmt.countApiTokens.get() as number;
  }

  /** Revokes a token (`DELETE /tokens/:id`). Returns false when no active token has that id. */
  revokeApiToken(id: number, revokedAt: number): boolean {
    return this.#stmt.revokeApiToken.run(revokedAt, id).changes > 0;
  }

  /** Notes when a token was last used. Optional: callers may throttle it, it is a write per call. */
  touchApiToken(id: number, usedAt: number): void {
    this.#stmt.touchApiToken.run(usedAt, id);
  }

  // ── enrolment tokens ──────────────────────────────────────────────────────

  /** Stores a one-time enrolment token (by its hash), valid until `expiresAt` (exclusive). */
  createEnrollToken(input: { hash: string; createdAt: number; expiresAt: number }): void {
    if (!(input.expiresAt > input.createdAt)) {
      throw new StorageError(
        "invalid_argument",
        `enrolment token expiresAt (${input.expiresAt}) must be after createdAt (${input.createdAt})`,
      );
    }
    try {
      this.#stmt.createEnrollToken.run(input.hash, input.createdAt, input.expiresAt);
    } catch (err) {
      if (isConstraintError(err)) {
        throw new StorageError("invalid_argument", "this enrolment token hash is already stored");
      }
      throw err;
    }
  }

  /**
   * Uses an enrolment token for `agentId`. Check and mark happen in one IMMEDIATE transaction, and the
   * update is guarded by `used_at IS NULL`, so a token is used at most once even when two connections
   * (or processes) race. A token is expired from `expiresAt` on. A used token reports "used" even once
   * it has also expired.
   */
  consumeEnrollToken(hash: string, agentId: string, nowMs: number): EnrollTokenResult {
    return this.#consumeTx.immediate(hash, agentId, nowMs);
  }

  // ── series ────────────────────────────────────────────────────────────────

  /**
   * The id of the series agent + metric + labels, created on first sight. Label order does not matter.
   * A cached series costs building its fast key (`seriesKey`) and two Map lookups.
   */
  seriesId(agentId: string, metric: string, labels: Labels): number {
    const [id] = this.seriesIds(agentId, [{ metric, labels }]);
    return id as number;
  }

  /**
   * `seriesId` for many series of one agent, creating all missing ones in a single transaction
   * (a new agent's first batch would otherwise commit once per series). The hot path of ingest: a hit
   * never sorts or JSON-encodes labels; only misses are canonicalised and looked up in `series`.
   */
  seriesIds(
    agentId: string,
    series: readonly { readonly metric: string; readonly labels: Labels }[],
  ): number[] {
    const ids = new Array<number>(series.length);
    const cache = this.#seriesIds;
    const young = cache.young(agentId);
    const old = cache.old(agentId);
    const promote: { key: string; id: number }[] = [];
    const misses: { index: number; key: string; metric: string; labels: string }[] = [];
    for (let i = 0; i < series.length; i++) {
      const s = series[i] as (typeof series)[number];
      const key = seriesKey(s.metric, s.labels);
      let id = young?.get(key);
      if (id === undefined) {
        id = old?.get(key);
        if (id !== undefined) promote.push({ key, id });
        else {
          misses.push({ index: i, key, metric: s.metric, labels: canonicalLabels(s.labels) });
          continue;
        }
      }
      ids[i] = id;
    }
    for (const p of promote) cache.set(agentId, p.key, p.id);
    if (misses.length > 0) {
      this.#db
        .transaction(() => {
          for (const m of misses) {
            const existing = this.#stmt.seriesIdByKey.get(agentId, m.metric, m.labels) as number | undefined;
            const id = existing ?? (this.#stmt.insertSeries.get(agentId, m.metric, m.labels) as number);
            ids[m.index] = id;
          }
        })
        .immediate();
      // Fill the cache only after the commit, so a rolled-back id is never remembered.
      for (const m of misses) cache.set(agentId, m.key, ids[m.index] as number);
    }
    return ids;
  }

  /** How many series ids are cached now (at most the `seriesCacheSize` given to `open`). */
  get cachedSeriesIds(): number {
    return this.#seriesIds.size;
  }

  /** Known series, filtered by agent and/or metric, ordered by agent, metric, then canonical labels. */
  findSeries(filter: { agentId?: string | undefined; metric?: string | undefined }): SeriesInfo[] {
    const { agentId, metric } = filter;
    let rows: SeriesRow[];
    if (agentId !== undefined && metric !== undefined)
      rows = this.#stmt.seriesByAgentMetric.all(agentId, metric) as SeriesRow[];
    else if (agentId !== undefined) rows = this.#stmt.seriesByAgent.all(agentId) as SeriesRow[];
    else if (metric !== undefined) rows = this.#stmt.seriesByMetric.all(metric) as SeriesRow[];
    else rows = this.#stmt.allSeries.all() as SeriesRow[];
    return rows.map((r) => ({
      id: r.id,
      agentId: r.agent_id,
      metric: r.metric,
      labels: parseLabels(r.labels),
    }));
  }
}

/** Default bound of the series-id cache: about 100–200 bytes of heap per entry, so ~100–200 MB at most. */
export const DEFAULT_SERIES_CACHE_SIZE = 1_000_000;

/**
 * A cache key for metric + labels, cheap to build: no sorting, no JSON. Injective (names and values
 * are length-prefixed, and metric names never hold NUL), but order-dependent: the same labels in
 * another key order get another key, which resolves to the same id on its first miss (misses are
 * canonicalised). Agents send a series' labels in a stable order, so that costs one extra entry at most.
 */
export function seriesKey(metric: string, labels: Labels): string {
  let key = metric;
  for (const name in labels) {
    const value = labels[name] as string;
    key += `\u0000${name.length}:${name}${value.length}:${value}`;
  }
  return key;
}

/**
 * The bounded series-id cache: two generations of per-agent Maps. Lookups try the young generation,
 * then the old one (a hit there is copied into the young one). When the young generation holds half
 * the bound, it becomes the old one and the previous old one is dropped. So at most `maxEntries` ids
 * are held, every series used since the last rotation stays cached, and a hit costs no reordering (an
 * approximate LRU). Series are never renumbered, so a dropped entry only costs one indexed SELECT.
 */
class SeriesIdCache {
  #young = new Map<string, Map<string, number>>();
  #old = new Map<string, Map<string, number>>();
  #youngSize = 0;
  #oldSize = 0;
  readonly #half: number;

  constructor(maxEntries: number) {
    this.#half = Math.max(1, Math.floor(maxEntries / 2));
  }

  get size(): number {
    return this.#youngSize + this.#oldSize;
  }

  young(agentId: string): Map<string, number> | undefined {
    return this.#young.get(agentId);
  }

  old(agentId: string): Map<string, number> | undefined {
    return this.#old.get(agentId);
  }

  set(agentId: string, key: string, id: number): void {
    let m = this.#young.get(agentId);
    if (!m) {
      m = new Map();
      this.#young.set(agentId, m);
    }
    if (m.has(key)) return;
    if (this.#youngSize >= this.#half) {
      this.#old = this.#young;
      this.#oldSize = this.#youngSize;
      this.#young = new Map();
      this.#youngSize = 0;
      m = new Map();
      this.#young.set(agentId, m);
    }
    m.set(key, id);
    this.#youngSize++;
  }
}

function prepareStatements(db: WritableDb) {
  return {
    upsertAgent: db.prepare(
      `INSERT INTO agents (id, hostname, version, labels, first_seen, last_seen)
       VALUES (@id, @hostname, @version, @labels, @seenAt, @seenAt)
       ON CONFLICT (id) DO UPDATE SET
         hostname = excluded.hostname, version = excluded.version, labels = excluded.labels,
         last_seen = max(last_seen, excluded.last_seen)
       RETURNING ${AGENT_COLUMNS}`,
    ),
    touchAgent: db.prepare("UPDATE agents SET last_seen = max(last_seen, ?) WHERE id = ?"),
    getAgent: db.prepare(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`),
    listAgents: db.prepare(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY id`),
    addAgentKey: db.prepare("INSERT INTO agent_keys (hash, agent_id, created_at) VALUES (?, ?, ?)"),
    agentForKeyHash: db.prepare(CATALOG_SQL.agentForKeyHash).pluck(),
    revokeAgentKeys: db.prepare(
      "UPDATE agent_keys SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL",
    ),
    createApiToken: db
      .prepare("INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id")
      .pluck(),
    apiTokenForHash: db.prepare(CATALOG_SQL.apiTokenForHash),
    listApiTokens: db.prepare(
      "SELECT id, name, role, created_at FROM api_tokens WHERE revoked_at IS NULL ORDER BY id",
    ),
    countApiTokens: db.prepare("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL").pluck(),
    revokeApiToken: db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
    touchApiToken: db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"),
    createEnrollToken: db.prepare(
      "INSERT INTO enroll_tokens (hash, created_at, expires_at) VALUES (?, ?, ?)",
    ),
    enrollTokenByHash: db.prepare(CATALOG_SQL.enrollTokenByHash),
    useEnrollToken: db.prepare(
      "UPDATE enroll_tokens SET used_at = ?, used_by = ? WHERE hash = ? AND used_at IS NULL",
    ),
    seriesIdByKey: db.prepare(CATALOG_SQL.seriesIdByKey).pluck(),
    insertSeries: db
      .prepare("INSERT INTO series (agent_id, metric, labels) VALUES (?, ?, ?) RETURNING id")
      .pluck(),
    seriesByAgentMetric: db.prepare(CATALOG_SQL.seriesByAgentMetric),
    seriesByAgent: db.prepare(CATALOG_SQL.seriesByAgent),
    seriesByMetric: db.prepare(CATALOG_SQL.seriesByMetric),
    allSeries: db.prepare(
      "SELECT id, agent_id, metric, labels FROM series ORDER BY agent_id, metric, labels",
    ),
  };
}

function toAgentRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    hostname: row.hostname,
    version: row.version,
    labels: parseLabels(row.labels),
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
  };
}

function toApiTokenRecord(row: ApiTokenRow): ApiTokenRecord {
  return { id: row.id, name: row.name, role: row.role, createdAt: row.created_at };
}

/** Labels are stored as `canonicalLabels` JSON written by this class, so they parse to string values. */
function parseLabels(json: string): Labels {
  return JSON.parse(json) as Labels;
}

function isConstraintError(err: unknown): boolean {
  return (
    err instanceof Error &&
    "code" in err &&
    typeof err.code === "string" &&
    err.code.startsWith("SQLITE_CONSTRAINT")
  );
}
