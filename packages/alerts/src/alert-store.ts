import type { Labels } from "@vigil/common";
import type { AlertEventKind } from "./alert-event.js";
import type { RuleKind, Severity } from "./rule.js";

/** Who acknowledged a firing alert, when, why, and until when. */
export interface Acknowledgement {
  readonly by: string;
  readonly comment: string;
  /** Unix ms. */
  readonly at: number;
  /** Unix ms; undefined: until the alert resolves. */
  readonly expiresAt: number | undefined;
}

/**
 * One pending or firing alert as the engine saves it: enough to rebuild its (rule, series) binding and
 * state machine after a restart. Only alerts that are pending or firing are kept.
 */
export interface PersistedAlert {
  readonly fingerprint: string;
  readonly rule: string;
  readonly kind: RuleKind;
  readonly severity: Severity;
  readonly agent: string;
  /** Undefined for `offline` (the binding is per agent, not per series). */
  readonly metric: string | undefined;
  /** The series' own labels (to find the binding again); `{}` for offline. */
  readonly seriesLabels: Labels;
  /** The alert's labels, fixed when the episode began. */
  readonly labels: Labels;
  readonly state: "pending" | "firing";
  readonly activeAt: number;
  /** 0 while pending. */
  readonly firedAt: number;
  /** Last firing/repeat notification (ms); 0 while pending. */
  readonly lastSentAt: number;
  /** First false evaluation while firing (`keep_firing_for`); undefined when none. */
  readonly keepFiringSince: number | undefined;
  readonly value: number;
  readonly ack: Acknowledgement | undefined;
}

/** What the history keeps: the three notifications plus acknowledgement changes. */
export type AlertHistoryType = "firing" | "repeat" | "resolved" | "acknowledged" | "unacknowledged";

/** One row of alert history. */
export interface AlertHistoryEntry {
  readonly type: AlertHistoryType;
  /** When it happened (engine time, Unix ms). */
  readonly at: number;
  readonly fingerprint: string;
  readonly rule: string;
  readonly kind: AlertEventKind;
  readonly severity: Severity;
  readonly agent: string;
  readonly metric: string | undefined;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly value: number;
  readonly activeAt: number;
  readonly firedAt: number;
  /** On `resolved`. */
  readonly resolvedAt: number | undefined;
  /** On `resolved`: condition, series_gone, rule_removed, suppressed. */
  readonly reason: string | undefined;
  /** On `acknowledged` / `unacknowledged`: who. */
  readonly by: string | undefined;
  readonly comment: string | undefined;
  readonly expiresAt: number | undefined;
}

/** One flush of the engine's changes; the store applies it atomically (one transaction). */
export interface AlertStoreChanges {
  /** Alerts whose saved state changed (insert or replace by fingerprint). */
  readonly upserts: readonly PersistedAlert[];
  /** Fingerprints that are no longer pending or firing. */
  readonly deletes: readonly string[];
  readonly history: readonly AlertHistoryEntry[];
}

/**
 * Where the engine keeps alert state and history across restarts (the server adapts the catalog's
 * tables to it). Writes happen only on changes (transitions, notifications, acknowledgements), never per
 * sample, and the engine hands them over in batches (`AlertEngine.flush`).
 */
export interface AlertStore {
  /** Every saved pending or firing alert, read once when the engine starts. */
  loadActive(): PersistedAlert[];
  save(changes: AlertStoreChanges): void;
}

/** An `AlertStore` in memory: for backtests and tests that restart an engine over the same state. */
export class MemoryAlertStore implements AlertStore {
  readonly alerts = new Map<string, PersistedAlert>();
  readonly history: AlertHistoryEntry[] = [];
  /** How many `save` calls carried something. */
  saves = 0;

  loadActive(): PersistedAlert[] {
    return [...this.alerts.values()];
  }

  save(changes: AlertStoreChanges): void {
    this.saves++;
    for (const fp of changes.deletes) this.alerts.delete(fp);
    for (const a of changes.upserts) this.alerts.set(a.fingerprint, a);
    this.history.push(...changes.history);
  }
}
