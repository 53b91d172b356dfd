import { canonicalLabels, type Labels } from "@vigil/common";
import type Database from "better-sqlite3";
import type { WritableDb } from "./db.js";
import { StorageError } from "./storage-error.js";

/** An acknowledgement as stored. Times are Unix ms. */
export interface StoredAlertAck {
  readonly by: string;
  readonly comment: string;
  readonly at: number;
  readonly expiresAt: number | undefined;
}

/** One pending or firing alert as stored (`alert_state` plus its `alert_acks` row). */
export interface StoredAlertState {
  readonly fingerprint: string;
  readonly rule: string;
  readonly kind: string;
  readonly severity: string;
  readonly agent: string;
  readonly metric: string | undefined;
  readonly seriesLabels: Labels;
  readonly labels: Labels;
  readonly state: "pending" | "firing";
  readonly activeAt: number;
  readonly firedAt: number;
  readonly lastSentAt: number;
  readonly keepFiringSince: number | undefined;
  /** NaN when the stored value is NULL. */
  readonly value: number;
  readonly ack: StoredAlertAck | undefined;
}

/** One alert history row. */
export interface StoredAlertHistoryEntry {
  readonly type: string;
  readonly at: number;
  readonly fingerprint: string;
  readonly rule: string;
  readonly kind: string;
  readonly severity: string;
  readonly agent: string;
  readonly metric: string | undefined;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly value: number;
  readonly activeAt: number;
  readonly firedAt: number;
  readonly resolvedAt: number | undefined;
  readonly reason: string | undefined;
  readonly by: string | undefined;
  readonly comment: string | undefined;
  readonly expiresAt: number | undefined;
}

/** A history row read back, with its id. */
export interface AlertHistoryRow extends StoredAlertHistoryEntry {
  readonly id: number;
}

/** `queryHistory` filters; all optional. */
export interface AlertHistoryQuery {
  readonly severity?: string | undefined;
  readonly agent?: string | undefined;
  /** Unix ms, inclusive. */
  readonly fromMs?: number | undefined;
  /** Unix ms, inclusive. */
  readonly toMs?: number | undefined;
  /** 1..MAX_ALERT_HISTORY_LIMIT; default DEFAULT_ALERT_HISTORY_LIMIT. */
  readonly limit?: number | undefined;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string | undefined;
}

export interface AlertHistoryPage {
  /** Newest first. */
  readonly entries: AlertHistoryRow[];
  /** Pass back as `cursor` for the next (older) page; undefined on the last page. */
  readonly nextCursor: string | undefined;
}

/** One batch of alert changes, written in one transaction. */
export interface AlertTableChanges {
  readonly upserts: readonly StoredAlertState[];
  readonly deletes: readonly string[];
  readonly history: readonly StoredAlertHistoryEntry[];
}

export const DEFAULT_ALERT_HISTORY_LIMIT = 100;
export const MAX_ALERT_HISTORY_LIMIT = 1000;

/** The history statements, exported so the migration test can check their plans. */
export const ALERT_HISTORY_SQL = {
  all: historySql({}),
  byAgent: historySql({ agent: true }),
  bySeverity: historySql({ severity: true }),
} as const;

interface StateRow {
  fingerprint: string;
  rule: string;
  kind: string;
  severity: string;
  agent_id: string;
  metric: string | null;
  series_labels: string;
  labels: string;
  state: "pending" | "firing";
  active_at: number;
  fired_at: number;
  last_sent_at: number;
  keep_firing_since: number | null;
  value: number | null;
  acked_by: string | null;
  comment: string | null;
  acked_at: number | null;
  expires_at: number | null;
}

interface HistoryRow {
  id: number;
  at: number;
  type: string;
  fingerprint: string;
  rule: string;
  kind: string;
  severity: string;
  agent_id: string;
  metric: string | null;
  labels: string;
  annotations: string;
  value: number | null;
  active_at: number;
  fired_at: number;
  resolved_at: number | null;
  reason: string | null;
  acked_by: string | null;
  comment: string | null;
  expires_at: number | null;
}

/**
 * The catalog's alert tables (`vigil.db`, migration 0002): state of pending/firing alerts with their
 * acknowledgements, and the append-only history. Reached as `catalog.alerts`.
 */
export class AlertTables {
  readonly #db: WritableDb;
  readonly #saveTx: Database.Transaction<(changes: AlertTableChanges) => void>;
  readonly #history = new Map<string, Database.Statement>();

  constructor(db: WritableDb) {
    this.#db = db;
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO alert_state (fingerprint, rule, kind, severity, agent_id, metric, series_labels,
         labels, state, active_at, fired_at, last_sent_at, keep_firing_since, value)
       VALUES (@fingerprint, @rule, @kind, @severity, @agent, @metric, @seriesLabels, @labels, @state,
         @activeAt, @firedAt, @lastSentAt, @keepFiringSince, @value)`,
    );
    const upsertAck = db.prepare(
      `INSERT OR REPLACE INTO alert_acks (fingerprint, acked_by, comment, acked_at, expires_at)
       VALUES (?, ?, ?, ?, ?)`,
    );
    const deleteState = db.prepare("DELETE FROM alert_state WHERE fingerprint = ?");
    const deleteAck = db.prepare("DELETE FROM alert_acks WHERE fingerprint = ?");
    const append = db.prepare(
      `INSERT INTO alert_history (at, type, fingerprint, rule, kind, severity, agent_id, metric, labels,
         annotations, value, active_at, fired_at, resolved_at, reason, acked_by, comment, expires_at)
       VALUES (@at, @type, @fingerprint, @rule, @kind, @severity, @agent, @metric, @labels, @annotations,
         @value, @activeAt, @firedAt, @resolvedAt, @reason, @by, @comment, @expiresAt)`,
    );
    this.#saveTx = db.transaction((changes: AlertTableChanges) => {
      for (const fp of changes.deletes) {
        deleteState.run(fp);
        deleteAck.run(fp);
      }
      for (const a of changes.upserts) {
        upsert.run({
          fingerprint: a.fingerprint,
          rule: a.rule,
          kind: a.kind,
          severity: a.severity,
          agent: a.agent,
          metric: a.metric ?? null,
          seriesLabels: canonicalLabels(a.seriesLabels),
          labels: canonicalLabels(a.labels),
          state: a.state,
          activeAt: a.activeAt,
          firedAt: a.firedAt,
          lastSentAt: a.lastSentAt,
          keepFiringSince: a.keepFiringSince ?? null,
          value: nullIfNaN(a.value),
        });
        if (a.ack) upsertAck.run(a.fingerprint, a.ack.by, a.ack.comment, a.ack.at, a.ack.expiresAt ?? null);
        else deleteAck.run(a.fingerprint);
      }
      for (const h of changes.history) {
        append.run({
          at: h.at,
          type: h.type,
          fingerprint: h.fingerprint,
          rule: h.rule,
          kind: h.kind,
          severity: h.severity,
          agent: h.agent,
          metric: h.metric ?? null,
          labels: canonicalLabels(h.labels),
          annotations: canonicalLabels(h.annotations),
          value: nullIfNaN(h.value),
          activeAt: h.activeAt,
          firedAt: h.firedAt,
          resolvedAt: h.resolvedAt ?? null,
          reason: h.reason ?? null,
          by: h.by ?? null,
          comment: h.comment ?? null,
          expiresAt: h.expiresAt ?? null,
        });
      }
    });
  }

  /** Every stored pending/firing alert with its acknowledgement, by fingerprint. */
  loadStates(): StoredAlertState[] {
    const rows = this.#db
      .prepare(
        `SELECT s.*, a.acked_by, a.comment, a.acked_at, a.expires_at
         FROM alert_state s LEFT JOIN alert_acks a ON a.fingerprint = s.fingerprint
         ORDER BY s.fingerprint`,
      )
      .all() as StateRow[];
    return rows.map((r) => ({
      fingerprint: r.fingerprint,
      rule: r.rule,
      kind: r.kind,
      severity: r.severity,
      agent: r.agent_id,
      metric: r.metric ?? undefined,
      seriesLabels: JSON.parse(r.series_labels) as Labels,
      labels: JSON.parse(r.labels) as Labels,
      state: r.state,
      activeAt: r.active_at,
      firedAt: r.fired_at,
      lastSentAt: r.last_sent_at,
      keepFiringSince: r.keep_firing_since ?? undefined,
      value: r.value ?? Number.NaN,
      ack:
        r.acked_by === null
          ? undefined
          : {
              by: r.acked_by,
              comment: r.comment ?? "",
              at: r.acked_at ?? 0,
              expiresAt: r.expires_at ?? undefined,
            },
    }));
  }

  /** Applies one batch of changes in one transaction: deletes, then upserts, then history rows. */
  save(changes: AlertTableChanges): void {
    if (changes.upserts.length === 0 && changes.deletes.length === 0 && changes.history.length === 0) return;
    this.#saveTx.immediate(changes);
  }

  /**
   * History newest first (by time, then insertion), filtered, one page at a time: keyset pagination on
   * (at, id), so a page costs the same however deep it is and rows appended meanwhile never shift it.
   */
  queryHistory(query: AlertHistoryQuery = {}): AlertHistoryPage {
    const limit = query.limit ?? DEFAULT_ALERT_HISTORY_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ALERT_HISTORY_LIMIT)
      throw new StorageError(
        "invalid_argument",
        `limit must be an integer 1..${MAX_ALERT_HISTORY_LIMIT}, not ${limit}`,
      );
    const cursor = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const shape = {
      agent: query.agent !== undefined,
      severity: query.severity !== undefined,
      from: query.fromMs !== undefined,
      to: query.toMs !== undefined,
      cursor: cursor !== undefined,
    };
    const sql = historySql(shape);
    let stmt = this.#history.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#history.set(sql, stmt);
    }
    const params: Record<string, unknown> = { limit: limit + 1 };
    if (shape.agent) params.agent = query.agent;
    if (shape.severity) params.severity = query.severity;
    if (shape.from) params.fromMs = query.fromMs;
    if (shape.to) params.toMs = query.toMs;
    if (cursor) {
      params.cAt = cursor.at;
      params.cId = cursor.id;
    }
    const rows = (stmt.all(params) as HistoryRow[]).map(historyRow);
    const more = rows.length > limit;
    const entries = more ? rows.slice(0, limit) : rows;
    const last = entries[entries.length - 1];
    return { entries, nextCursor: more && last ? `${last.at}_${last.id}` : undefined };
  }
}

function historySql(shape: {
  agent?: boolean;
  severity?: boolean;
  from?: boolean;
  to?: boolean;
  cursor?: boolean;
}): string {
  const where: string[] = [];
  if (shape.agent) where.push("agent_id = @agent");
  if (shape.severity) where.push("severity = @severity");
  if (shape.from) where.push("at >= @fromMs");
  if (shape.to) where.push("at <= @toMs");
  if (shape.cursor) where.push("(at, id) < (@cAt, @cId)");
  return `SELECT * FROM alert_history${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT @limit`;
}

function historyRow(r: HistoryRow): AlertHistoryRow {
  return {
    id: r.id,
    type: r.type,
    at: r.at,
    fingerprint: r.fingerprint,
    rule: r.rule,
    kind: r.kind,
    severity: r.severity,
    agent: r.agent_id,
    metric: r.metric ?? undefined,
    labels: JSON.parse(r.labels) as Labels,
    annotations: JSON.parse(r.annotations) as Labels,
    value: r.value ?? Number.NaN,
    activeAt: r.active_at,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at ?? undefined,
    reason: r.reason ?? undefined,
    by: r.acked_by ?? undefined,
    comment: r.comment ?? undefined,
    expiresAt: r.expires_at ?? undefined,
  };
}

function parseCursor(text: string): { at: number; id: number } {
  const m = /^(-?\d+)_(\d+)$/.exec(text);
  if (!m) throw new StorageError("invalid_argument", `cursor "${text}" is not one this server handed out`);
  return { at: Number(m[1]), id: Number(m[2]) };
}

function nullIfNaN(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}
