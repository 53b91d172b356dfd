import type { Labels } from "@vigil/common";
import type { AlertEventType } from "./alert-state.js";
import type { Acknowledgement } from "./alert-store.js";
import type { RuleKind, Severity } from "./rule.js";

/** Why a `resolved` event was sent. */
export type ResolveReason = "condition" | "series_gone" | "rule_removed" | "suppressed";

/** The `kind` of an event no rule produced: something the server itself noticed (`raiseSystemEvent`). */
export const SYSTEM_EVENT_KIND = "system";

/** A rule's kind, or `system` for an event the server raised itself. */
export type AlertEventKind = RuleKind | typeof SYSTEM_EVENT_KIND;

/** A notification-worthy change of one alert, handed to the sink. */
export interface AlertEvent {
  readonly type: AlertEventType;
  /** Stable identity of the alert: rule name + its labels (`alertFingerprint`). */
  readonly fingerprint: string;
  readonly rule: string;
  readonly kind: AlertEventKind;
  readonly severity: Severity;
  readonly agent: string;
  /** The series' metric; undefined for `offline`. */
  readonly metric: string | undefined;
  /** `alertname`, `agent`, the series' labels and the rule's `labels`, fixed when the episode began. */
  readonly labels: Labels;
  /** The rule's `annotations`, rendered with the latest value. */
  readonly annotations: Labels;
  /** The kind's value at the last true evaluation (`$value`). */
  readonly value: number;
  /** When the episode became pending (ms). */
  readonly activeAt: number;
  /** When it started firing (ms). */
  readonly firedAt: number;
  /** Set on `resolved` events. */
  readonly resolvedAt: number | undefined;
  readonly resolveReason: ResolveReason | undefined;
  /** The `now` of the step that produced the event. */
  readonly at: number;
}

/** Where the engine sends events; implementations must not throw (log instead). */
export interface AlertSink {
  emit(event: AlertEvent): void;
}

/** An alert that is pending or firing now. */
export interface ActiveAlert {
  readonly fingerprint: string;
  readonly rule: string;
  readonly kind: RuleKind;
  readonly severity: Severity;
  readonly state: "pending" | "firing";
  readonly agent: string;
  readonly metric: string | undefined;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly value: number;
  readonly activeAt: number;
  /** Undefined while pending. */
  readonly firedAt: number | undefined;
  /** When the last firing/repeat notification went out; undefined while pending. */
  readonly lastSentAt: number | undefined;
  /** Set while acknowledged (an expired acknowledgement stays until the alert resolves). */
  readonly ack: Acknowledgement | undefined;
}

/** What `raiseSystemEvent` takes: a named condition the server noticed, with its labels and text. */
export interface SystemEventInput {
  /** Like a rule name (`alertname`), e.g. `StorageDayFileQuarantined`. */
  readonly name: string;
  readonly severity: Severity;
  /** Whose it is: an agent id, or `vigil-server` for the server itself. */
  readonly agent: string;
  readonly labels: Labels;
  readonly annotations: Labels;
}
