import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ALERT_HISTORY_SQL, type StoredAlertHistoryEntry, type StoredAlertState } from "./alert-tables.js";
import { Catalog } from "./catalog.js";
import { catalogPath } from "./data-dir-layout.js";
import { openReadonlyDb } from "./db.js";
import { isStorageError } from "./storage-error.js";

let dir: string;
let catalog: Catalog;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-alert-tables-"));
  catalog = Catalog.open(dir);
});
afterEach(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

const firing: StoredAlertState = {
  fingerprint: "00000000000000aa",
  rule: "DiskFull",
  kind: "threshold",
  severity: "critical",
  agent: "web-1",
  metric: "filesystem_used_percent",
  seriesLabels: { mountpoint: "/", fstype: "ext4" },
  labels: { alertname: "DiskFull", agent: "web-1", mountpoint: "/", fstype: "ext4" },
  state: "firing",
  activeAt: 1000,
  firedAt: 61_000,
  lastSentAt: 61_000,
  keepFiringSince: undefined,
  value: 95.5,
  ack: undefined,
};

function entry(i: number, over: Partial<StoredAlertHistoryEntry> = {}): StoredAlertHistoryEntry {
  return {
    type: "firing",
    at: 1_000 * i,
    fingerprint: `fp${i % 3}`,
    rule: "R",
    kind: "threshold",
    severity: i % 2 === 0 ? "critical" : "warning",
    agent: `web-${i % 3}`,
    metric: "m",
    labels: { alertname: "R" },
    annotations: {},
    value: i,
    activeAt: 0,
    firedAt: 0,
    resolvedAt: undefined,
    reason: undefined,
    by: undefined,
    comment: undefined,
    expiresAt: undefined,
    ...over,
  };
}

describe("catalog alert tables", () => {
  it("round-trips alert state and acknowledgements through a reopened file", () => {
    const offline: StoredAlertState = {
      ...firing,
      fingerprint: "00000000000000bb",
      rule: "Down",
      kind: "offline",
      metric: undefined,
      seriesLabels: {},
      labels: { alertname: "Down", agent: "db-1" },
      agent: "db-1",
      state: "pending",
      firedAt: 0,
      lastSentAt: 0,
      keepFiringSince: 5_000,
      value: Number.NaN,
    };
    const acked = { ...firing, ack: { by: "ann", comment: "on it", at: 70_000, expiresAt: 3_600_000 } };
    catalog.alerts.save({ upserts: [acked, offline], deletes: [], history: [] });
    catalog.close();
    catalog = Catalog.open(dir);
    expect(catalog.alerts.loadStates()).toEqual([acked, offline]);

    // Unacknowledged (upsert without ack) and the other one ended.
    catalog.alerts.save({ upserts: [firing], deletes: [offline.fingerprint], history: [] });
    expect(catalog.alerts.loadStates()).toEqual([firing]);
    catalog.alerts.save({ upserts: [], deletes: [firing.fingerprint], history: [] });
    expect(catalog.alerts.loadStates()).toEqual([]);
  });

  it("one save is one transaction: a failing row leaves nothing behind", () => {
    const bad = { ...firing, fingerprint: "x", state: "resolved" as unknown as "firing" };
    expect(() => catalog.alerts.save({ upserts: [firing, bad], deletes: [], history: [entry(1)] })).toThrow(
      /CHECK constraint failed/,
    );
    expect(catalog.alerts.loadStates()).toEqual([]);
    expect(catalog.alerts.queryHistory().entries).toEqual([]);
  });

  it("pages history newest first with a keyset cursor, filtered by severity, agent and time", () => {
    // 30 rows at 1..30 s, plus two rows sharing one timestamp to exercise the (at, id) tiebreak.
    const rows = Array.from({ length: 30 }, (_, i) => entry(i + 1));
    rows.push(entry(15, { type: "acknowledged", by: "ann", comment: "c", expiresAt: 99 }));
    catalog.alerts.save({ upserts: [], deletes: [], history: rows });

    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = catalog.alerts.queryHistory({ limit: 7, cursor });
      seen.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(5);
    expect(seen).toHaveLength(31);
    const all = catalog.alerts.queryHistory({ limit: 1000 }).entries;
    expect(all.map((e) => e.id)).toEqual(seen);
    expect(all.map((e) => e.at)).toEqual([...all.map((e) => e.at)].sort((a, b) => b - a));
    // At 15 s the later insert (the acknowledgement) comes first.
    const at15 = all.filter((e) => e.at === 15_000);
    expect(at15.map((e) => e.type)).toEqual(["acknowledged", "firing"]);
    expect(at15[0]).toMatchObject({ by: "ann", comment: "c", expiresAt: 99 });

    const critical = catalog.alerts.queryHistory({ severity: "critical", fromMs: 10_000, toMs: 20_000 });
    expect(critical.entries.map((e) => e.at / 1000)).toEqual([20, 18, 16, 14, 12, 10]);
    const web1 = catalog.alerts.queryHistory({ agent: "web-1", limit: 2 });
    expect(web1.entries.map((e) => e.at / 1000)).toEqual([28, 25]);
    const next = catalog.alerts.queryHistory({ agent: "web-1", limit: 2, cursor: web1.nextCursor });
    expect(next.entries.map((e) => e.at / 1000)).toEqual([22, 19]);
  });

  it("rejects a bad limit or cursor with a precise error", () => {
    for (const q of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { cursor: "abc" }]) {
      let err: unknown;
      try {
        catalog.alerts.queryHistory(q);
      } catch (e) {
        err = e;
      }
      expect(isStorageError(err) && err.code).toBe("invalid_argument");
    }
  });

  it("history queries search their index, never scan the table", () => {
    const db = openReadonlyDb(catalogPath(dir));
    const plan = (sql: string) =>
      (
        db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ limit: 1, agent: "a", severity: "s" }) as {
          detail: string;
        }[]
      )
        .map((r) => r.detail)
        .join("; ");
    expect(plan(ALERT_HISTORY_SQL.all)).toMatch(/SCAN alert_history USING INDEX alert_history_at/);
    expect(plan(ALERT_HISTORY_SQL.byAgent)).toMatch(
      /SEARCH alert_history USING INDEX alert_history_agent \(agent_id=\?\)/,
    );
    expect(plan(ALERT_HISTORY_SQL.bySeverity)).toMatch(
      /SEARCH alert_history USING INDEX alert_history_severity \(severity=\?\)/,
    );
    for (const sql of Object.values(ALERT_HISTORY_SQL)) expect(plan(sql)).not.toMatch(/TEMP B-TREE/);
    db.close();
  });
});
