import type { Labels, SeriesSamples } from "@vigil/common";
import { AckError } from "./ack-error.js";
import { type AgentSettings, type OfflineSuppression, offlineSuppression } from "./agent-settings.js";
import {
  type ActiveAlert,
  type AlertEvent,
  type AlertSink,
  type ResolveReason,
  SYSTEM_EVENT_KIND,
  type SystemEventInput,
} from "./alert-event.js";
import {
  type AlertEventType,
  type AlertState,
  type AlertStateName,
  forceResolve,
  newAlertState,
  stepAlert,
} from "./alert-state.js";
import type {
  Acknowledgement,
  AlertHistoryEntry,
  AlertHistoryType,
  AlertStore,
  PersistedAlert,
} from "./alert-store.js";
import { alertFingerprint } from "./fingerprint.js";
import { type HostHealth, hostStatus } from "./host-health.js";
import { evaluateAbsent } from "./kinds/absent.js";
import { evaluateOffline } from "./kinds/offline.js";
import { evaluateRateOfChange, RATE_OF_CHANGE_WINDOW } from "./kinds/rate-of-change.js";
import { evaluateThreshold } from "./kinds/threshold.js";
import { evaluateTrend, TREND_WINDOW } from "./kinds/trend.js";
import type { OfflineRule, Rule, Severity } from "./rule.js";
import { matchesAll } from "./selector.js";
import type { TemplateContext } from "./template.js";
import { SlidingWindow } from "./window.js";

/** Prometheus' lookback delta: a series silent this long is gone (its alerts resolve, windows freed). */
export const DEFAULT_STALE_AFTER_MS = 5 * 60_000;
/** Silence is not counted for this long after the engine starts or an agent is first seen. */
export const DEFAULT_OFFLINE_GRACE_MS = 60_000;
/** Host health says `down` after this much silence even without an offline rule. */
export const DEFAULT_DOWN_AFTER_MS = 5 * 60_000;

export interface AlertEngineOptions {
  readonly sink: AlertSink;
  /** The engine's start time (ms): offline grace counts from it. */
  readonly now: number;
  readonly staleAfterMs?: number;
  readonly offlineGraceMs?: number;
  readonly downAfterMs?: number;
  /**
   * Keeps alert state and history across restarts: the engine restores the pending and firing alerts
   * it holds (no event is sent for them) and saves changes on `flush()`.
   */
  readonly store?: AlertStore;
}

/** What `acknowledge` takes. */
export interface AcknowledgeInput {
  readonly by: string;
  readonly comment: string;
  /** Unix ms; undefined: until the alert resolves. */
  readonly expiresAt?: number | undefined;
}

/** Sizes, for metrics and the memory benchmark. */
export interface AlertEngineStats {
  readonly agents: number;
  readonly series: number;
  /** (rule, series) and (offline rule, agent) pairs. */
  readonly bindings: number;
  readonly windows: number;
  readonly windowEntries: number;
  readonly windowStorageBytes: number;
  readonly activeAlerts: number;
}

/** One (rule, series) or (offline rule, agent) pair: its window and alert state. */
interface Binding {
  rule: Rule;
  readonly agent: AgentEntry;
  /** Undefined for offline bindings. */
  readonly series: SeriesEntry | undefined;
  window: SlidingWindow | undefined;
  readonly alert: AlertState;
  /** Fixed when an episode begins. */
  labels: Labels | undefined;
  fingerprint: string | undefined;
  /** Set while firing and acknowledged; cleared when the episode ends. */
  ack: Acknowledgement | undefined;
}

interface SeriesEntry {
  readonly key: string;
  readonly metric: string;
  readonly labels: Labels;
  /** Newest sample timestamp taken (agent clock): older or equal samples are resends and skipped. */
  newestTs: number;
  /** Engine time of the last sample (for staleness and `absent`). */
  lastArrivalAt: number;
  bindings: Binding[];
  /** False once stale: only absent bindings remain. */
  live: boolean;
}

interface AgentEntry {
  readonly id: string;
  firstSeenAt: number | undefined;
  lastSeenAt: number | undefined;
  readonly series: Map<string, SeriesEntry>;
  offline: Binding[];
}

const EMPTY_LABELS: Labels = Object.freeze({});

/**
 * Evaluates alert rules against samples as they arrive and against the clock, and sends
 * `firing` / `resolved` / `repeat` events to its sink. Time is always a parameter (`now`, engine time
 * in Unix ms); sample timestamps (agent time) only place samples in windows.
 *
 * - `ingest` evaluates every matching rule on each new sample of each series (windows, kinds, state).
 * - `tick` drives what time alone changes: `for` and `keep_firing_for` expiry, `repeat_interval`,
 *   offline and absent conditions, and stale series (resolved and freed after `staleAfterMs`).
 * - `setRules` swaps the rule set: unchanged rules (same definition) keep windows and alert state and
 *   nothing is sent; a changed rule keeps its alert state (and its window when kind and window agree);
 *   firing alerts of removed rules (or series a changed rule no longer selects) are resolved.
 */
export class AlertEngine {
  private readonly sink: AlertSink;
  private readonly startedAt: number;
  private readonly staleAfterMs: number;
  private readonly graceMs: number;
  private readonly downAfterMs: number;
  private rules: Rule[] = [];
  private rulesByMetric = new Map<string, Rule[]>();
  private offlineRules: OfflineRule[] = [];
  private readonly agents = new Map<string, AgentEntry>();
  private readonly active = new Set<Binding>();
  private agentSettings: ReadonlyMap<string, AgentSettings> = new Map();
  private readonly store: AlertStore | undefined;
  /** Saved alerts not yet bound to a rule, by `restoreKey`. */
  private readonly restored = new Map<string, PersistedAlert>();
  /** Bindings whose saved state changed since the last flush. */
  private readonly dirty = new Set<Binding>();
  /** Fingerprints that stopped being pending or firing since the last flush. */
  private gone: string[] = [];
  private history: AlertHistoryEntry[] = [];

  constructor(opts: AlertEngineOptions) {
    this.sink = opts.sink;
    this.startedAt = opts.now;
    this.staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.graceMs = opts.offlineGraceMs ?? DEFAULT_OFFLINE_GRACE_MS;
    this.downAfterMs = opts.downAfterMs ?? DEFAULT_DOWN_AFTER_MS;
    this.store = opts.store;
    for (const p of opts.store?.loadActive() ?? []) {
      this.restored.set(restoreKey(p.rule, p.agent, p.metric, p.seriesLabels), p);
    }
  }

  /**
   * Hands the changes since the last flush to the store in one batch (one transaction there): state of
   * alerts that changed, alerts that ended, and history rows. The server calls it after each ingest
   * and tick; without a store it does nothing.
   */
  flush(): void {
    if (!this.store) return;
    if (this.dirty.size === 0 && this.gone.length === 0 && this.history.length === 0) return;
    const upserts: PersistedAlert[] = [];
    for (const b of this.dirty) if (this.active.has(b)) upserts.push(this.persisted(b));
    const changes = { upserts, deletes: this.gone, history: this.history };
    this.dirty.clear();
    this.gone = [];
    this.history = [];
    this.store.save(changes);
  }

  /** Per-agent settings (maintenance windows, expected_offline), replacing the previous ones. */
  setAgentSettings(settings: ReadonlyMap<string, AgentSettings>, now: number): void {
    this.agentSettings = settings;
    for (const agent of this.agents.values()) for (const b of agent.offline) this.evaluateOffline(b, now);
  }

  /** Why an agent's offline alerts are suppressed at `now`, if they are. */
  offlineSuppression(agentId: string, now: number): OfflineSuppression | undefined {
    return offlineSuppression(this.agentSettings.get(agentId), now);
  }

  /**
   * Acknowledges a firing alert: no `repeat` is sent for it until it resolves or `expiresAt` passes.
   * Recorded in history and saved. Throws AckError for an unknown or not firing fingerprint.
   */
  acknowledge(fingerprint: string, input: AcknowledgeInput, now: number): ActiveAlert {
    if (input.by.trim() === "") throw new AckError("invalid_argument", "acknowledge: `by` must not be empty");
    if (input.expiresAt !== undefined && !(input.expiresAt > now))
      throw new AckError("invalid_argument", "acknowledge: `expiresAt` must be in the future");
    const b = this.firingBinding(fingerprint);
    b.ack = { by: input.by, comment: input.comment, at: now, expiresAt: input.expiresAt };
    this.dirty.add(b);
    this.record(b, "acknowledged", now, undefined);
    return this.activeAlert(b);
  }

  /**
   * Raises an event no rule produced: something the server itself noticed (a day file quarantined at
   * start). It goes to the sink and the history as a `firing` event of kind `system`, so it is
   * logged, kept and (with the notification pipeline) sent like a rule's; it is not an active alert,
   * since no condition exists that could resolve it.
   */
  raiseSystemEvent(input: SystemEventInput, now: number): AlertEvent {
    const labels = { ...input.labels, alertname: input.name, agent: input.agent };
    const event: AlertEvent = {
      type: "firing",
      fingerprint: alertFingerprint(input.name, labels),
      rule: input.name,
      kind: SYSTEM_EVENT_KIND,
      severity: input.severity,
      agent: input.agent,
      metric: undefined,
      labels,
      annotations: input.annotations,
      value: Number.NaN,
      activeAt: now,
      firedAt: now,
      resolvedAt: undefined,
      resolveReason: undefined,
      at: now,
    };
    if (this.store) this.history.push(historyOf(event));
    this.sink.emit(event);
    return event;
  }

  /** Withdraws an acknowledgement: repeats resume on their schedule. */
  unacknowledge(fingerprint: string, by: string, now: number): ActiveAlert {
    const b = this.firingBinding(fingerprint);
    if (!b.ack) throw new AckError("not_acknowledged", `alert ${fingerprint} is not acknowledged`);
    b.ack = undefined;
    this.dirty.add(b);
    this.record(b, "unacknowledged", now, undefined, by);
    return this.activeAlert(b);
  }

  /** The rules in force. */
  currentRules(): readonly Rule[] {
    return this.rules;
  }

  /** Swaps in a validated rule set (see the class comment for what is kept). */
  setRules(rules: readonly Rule[], now: number): void {
    const old = new Map(this.rules.map((r) => [r.name, r]));
    // An unchanged rule keeps its object, so bindings keep pointing at it.
    const next = rules.map((r) => {
      const prev = old.get(r.name);
      return prev && prev.definition === r.definition ? prev : r;
    });
    this.rules = next;
    this.rulesByMetric = new Map();
    this.offlineRules = [];
    for (const r of next) {
      if (r.kind === "offline") {
        this.offlineRules.push(r);
        continue;
      }
      const list = this.rulesByMetric.get(r.metric);
      if (list) list.push(r);
      else this.rulesByMetric.set(r.metric, [r]);
    }
    for (const agent of this.agents.values()) {
      agent.offline = this.rebind(agent.offline, this.offlineRulesFor(agent.id), agent, undefined, now);
      for (const [key, series] of agent.series) {
        const wanted = series.live
          ? this.rulesFor(agent.id, series.metric, series.labels)
          : this.rulesFor(agent.id, series.metric, series.labels).filter((r) => r.kind === "absent");
        series.bindings = this.rebind(series.bindings, wanted, agent, series, now);
        if (!series.live && series.bindings.length === 0) agent.series.delete(key);
      }
    }
    this.bindRestored(now);
  }

  /**
   * Gives each saved alert its binding back (creating the agent and series entries the way a first
   * sample would), without sending anything; an alert whose rule is gone or no longer selects it is
   * resolved (`rule_removed`).
   */
  private bindRestored(now: number): void {
    if (this.restored.size === 0) return;
    for (const p of [...this.restored.values()]) {
      const agent = this.agent(p.agent);
      if (p.metric !== undefined) {
        const key = seriesKey(p.metric, p.seriesLabels);
        if (!agent.series.has(key)) {
          const entry: SeriesEntry = {
            key,
            metric: p.metric,
            labels: p.seriesLabels,
            newestTs: Number.NEGATIVE_INFINITY,
            lastArrivalAt: now,
            bindings: [],
            live: true,
          };
          entry.bindings = this.rebind(
            [],
            this.rulesFor(p.agent, p.metric, p.seriesLabels),
            agent,
            entry,
            now,
          );
          if (entry.bindings.length > 0) agent.series.set(key, entry);
        }
      }
    }
    for (const p of this.restored.values()) {
      const resolvedAt = now;
      this.gone.push(p.fingerprint);
      if (p.state !== "firing") continue;
      const event: AlertEvent = {
        type: "resolved",
        fingerprint: p.fingerprint,
        rule: p.rule,
        kind: p.kind,
        severity: p.severity,
        agent: p.agent,
        metric: p.metric,
        labels: p.labels,
        annotations: EMPTY_LABELS,
        value: p.value,
        activeAt: p.activeAt,
        firedAt: p.firedAt,
        resolvedAt,
        resolveReason: "rule_removed",
        at: now,
      };
      if (this.store) this.history.push(historyOf(event));
      this.sink.emit(event);
    }
    this.restored.clear();
  }

  /** Records that an agent is alive (hello, batch, heartbeat): resolves its offline alerts. */
  agentSeen(agentId: string, now: number): void {
    const agent = this.agent(agentId);
    agent.firstSeenAt ??= now;
    agent.lastSeenAt = now;
    for (const b of agent.offline) this.evaluateOffline(b, now);
  }

  /**
   * Makes an agent known without seeing it, e.g. from the catalog at server start with the last-seen
   * time stored there, so an agent that never comes back still raises its offline alert (after the
   * start grace).
   */
  registerAgent(agentId: string, lastSeenAt: number | undefined): void {
    const agent = this.agent(agentId);
    if (lastSeenAt !== undefined && (agent.lastSeenAt === undefined || lastSeenAt > agent.lastSeenAt)) {
      agent.lastSeenAt = lastSeenAt;
    }
  }

  /** Forgets an agent (deleted): its firing alerts resolve, its state is freed. */
  forgetAgent(agentId: string, now: number): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    for (const b of agent.offline) this.resolveNow(b, now, "rule_removed");
    for (const series of agent.series.values())
      for (const b of series.bindings) this.resolveNow(b, now, "series_gone");
    this.agents.delete(agentId);
  }

  /**
   * Takes one agent's batch: each series' samples (time-ordered; resends at or before the newest
   * sample already taken are skipped) go through every rule that selects the series.
   */
  ingest(agentId: string, series: readonly SeriesSamples[], now: number): void {
    this.agentSeen(agentId, now);
    const agent = this.agent(agentId);
    for (const s of series) {
      const key = seriesKey(s.metric, s.labels);
      let entry = agent.series.get(key);
      if (!entry) {
        entry = {
          key,
          metric: s.metric,
          labels: s.labels,
          newestTs: Number.NEGATIVE_INFINITY,
          lastArrivalAt: now,
          bindings: [],
          live: true,
        };
        entry.bindings = this.rebind([], this.rulesFor(agentId, s.metric, s.labels), agent, entry, now);
        agent.series.set(key, entry);
      } else if (!entry.live) {
        entry.live = true;
        entry.bindings = this.rebind(
          entry.bindings,
          this.rulesFor(agentId, s.metric, s.labels),
          agent,
          entry,
          now,
        );
      }
      entry.lastArrivalAt = now;
      const { timestamps, values } = s;
      const bindings = entry.bindings;
      for (let i = 0; i < timestamps.length; i++) {
        const ts = timestamps[i] as number;
        if (ts <= entry.newestTs) continue;
        entry.newestTs = ts;
        const value = values[i] as number;
        for (let j = 0; j < bindings.length; j++) {
          const b = bindings[j] as Binding;
          const rule = b.rule;
          let v: number;
          switch (rule.kind) {
            case "threshold":
              v = evaluateThreshold(rule, value);
              break;
            case "rate_of_change":
              if (!(b.window as SlidingWindow).push(ts, value)) continue;
              v = evaluateRateOfChange(rule, b.window as SlidingWindow);
              break;
            case "trend":
              if (!(b.window as SlidingWindow).push(ts, value)) continue;
              v = evaluateTrend(rule, b.window as SlidingWindow);
              break;
            default:
              // absent: a sample means present.
              v = Number.NaN;
          }
          this.step(b, v, now);
        }
      }
    }
  }

  /**
   * Marks a series gone now (a stale marker): its firing alerts resolve and its windows are freed;
   * `absent` rules keep watching it.
   */
  staleSeries(agentId: string, metric: string, labels: Labels, now: number): void {
    const agent = this.agents.get(agentId);
    const entry = agent?.series.get(seriesKey(metric, labels));
    if (agent && entry) this.retire(agent, entry, now);
  }

  /** Time-driven transitions at `now`: for, keep_firing_for, repeat, offline, absent, staleness. */
  tick(now: number): void {
    for (const agent of this.agents.values()) {
      for (const b of agent.offline) this.evaluateOffline(b, now);
      for (const entry of agent.series.values()) {
        if (entry.live && now - entry.lastArrivalAt >= this.staleAfterMs) {
          this.retire(agent, entry, now);
          continue;
        }
        for (const b of entry.bindings) {
          if (b.rule.kind === "absent") {
            const seen = agent.lastSeenAt ?? Number.NEGATIVE_INFINITY;
            this.step(b, evaluateAbsent(b.rule, entry.lastArrivalAt, seen, now), now);
          } else if (b.alert.state === "pending" || b.alert.state === "firing") {
            this.step(b, b.alert.lastActive ? b.alert.value : Number.NaN, now);
          }
        }
      }
    }
  }

  /** Alerts pending or firing now. */
  activeAlerts(): ActiveAlert[] {
    const out: ActiveAlert[] = [];
    for (const b of this.active) out.push(this.activeAlert(b));
    return out;
  }

  /** Health of every known agent at `now`, sorted by agent id. */
  hostHealth(now: number): HostHealth[] {
    return [...this.agents.keys()].sort().map((id) => this.agentHealth(id, now) as HostHealth);
  }

  /** One agent's health at `now`; undefined for an agent the engine does not know. */
  agentHealth(agentId: string, now: number): HostHealth | undefined {
    const agent = this.agents.get(agentId);
    if (!agent) return undefined;
    const firing: Record<Severity, number> = { info: 0, warning: 0, critical: 0 };
    let offlineFiring: string | undefined;
    for (const b of this.active) {
      if (b.agent !== agent || b.alert.state !== "firing") continue;
      firing[b.rule.severity]++;
      if (b.rule.kind === "offline") offlineFiring ??= b.rule.name;
    }
    const suppressed = this.offlineSuppression(agentId, now);
    const { status, reason } = hostStatus({
      offlineFiring,
      silentMs: now - this.silentSince(agent),
      downAfterMs: this.downAfterMs,
      firing,
      suppressed,
    });
    return { agent: agentId, status, lastSeenAt: agent.lastSeenAt, firing, reason, suppressed };
  }

  stats(): AlertEngineStats {
    let series = 0;
    let bindings = 0;
    let windows = 0;
    let windowEntries = 0;
    let windowStorageBytes = 0;
    for (const agent of this.agents.values()) {
      bindings += agent.offline.length;
      for (const entry of agent.series.values()) {
        series++;
        bindings += entry.bindings.length;
        for (const b of entry.bindings) {
          if (!b.window) continue;
          windows++;
          windowEntries += b.window.size;
          windowStorageBytes += b.window.storageBytes;
        }
      }
    }
    return {
      agents: this.agents.size,
      series,
      bindings,
      windows,
      windowEntries,
      windowStorageBytes,
      activeAlerts: this.active.size,
    };
  }

  private agent(agentId: string): AgentEntry {
    let agent = this.agents.get(agentId);
    if (!agent) {
      agent = { id: agentId, firstSeenAt: undefined, lastSeenAt: undefined, series: new Map(), offline: [] };
      this.agents.set(agentId, agent);
      agent.offline = this.rebind([], this.offlineRulesFor(agentId), agent, undefined, this.startedAt);
    }
    return agent;
  }

  /** When an agent's silence counts from: its last sighting, but never inside a grace period. */
  private silentSince(agent: AgentEntry): number {
    let since = Math.max(agent.lastSeenAt ?? Number.NEGATIVE_INFINITY, this.startedAt + this.graceMs);
    if (agent.firstSeenAt !== undefined) since = Math.max(since, agent.firstSeenAt + this.graceMs);
    return since;
  }

  private rulesFor(agentId: string, metric: string, labels: Labels): Rule[] {
    const candidates = this.rulesByMetric.get(metric);
    if (!candidates) return [];
    return candidates.filter((r) => r.matchAgent(agentId) && matchesAll(labels, r.matchers));
  }

  private offlineRulesFor(agentId: string): Rule[] {
    return this.offlineRules.filter((r) => r.matchAgent(agentId));
  }

  /**
   * New bindings for `wanted`, reusing old ones by rule name: an unchanged rule keeps its binding; a
   * changed one keeps alert state, labels and fingerprint (and its window when kind and span agree).
   * Old bindings left over are resolved if firing.
   */
  private rebind(
    old: readonly Binding[],
    wanted: readonly Rule[],
    agent: AgentEntry,
    series: SeriesEntry | undefined,
    now: number,
  ): Binding[] {
    const byName = new Map(old.map((b) => [b.rule.name, b]));
    const out = wanted.map((rule) => {
      const prev = byName.get(rule.name);
      if (prev) {
        byName.delete(rule.name);
        if (prev.rule === rule) return prev;
        const keepWindow =
          prev.window !== undefined &&
          prev.rule.kind === rule.kind &&
          prev.window.spanMs === windowSpan(rule);
        prev.rule = rule;
        prev.window = keepWindow ? prev.window : newWindow(rule);
        return prev;
      }
      const b: Binding = {
        rule,
        agent,
        series,
        window: newWindow(rule),
        alert: newAlertState(),
        labels: undefined,
        fingerprint: undefined,
        ack: undefined,
      };
      if (this.restored.size > 0) this.restore(b);
      return b;
    });
    for (const b of byName.values()) this.resolveNow(b, now, "rule_removed");
    return out;
  }

  /** The series went stale: resolve and free everything but `absent` bindings. */
  private retire(agent: AgentEntry, entry: SeriesEntry, now: number): void {
    entry.live = false;
    const keep: Binding[] = [];
    for (const b of entry.bindings) {
      if (b.rule.kind === "absent") keep.push(b);
      else this.resolveNow(b, now, "series_gone");
    }
    entry.bindings = keep;
    if (keep.length === 0) agent.series.delete(entry.key);
  }

  private evaluateOffline(b: Binding, now: number): void {
    if (this.offlineSuppression(b.agent.id, now) !== undefined) {
      this.resolveNow(b, now, "suppressed");
      return;
    }
    // Grace periods keep new offline alerts from flooding in after a (server) start; an alert already
    // firing (restored from before a restart) keeps counting from the real last sighting instead, so
    // it neither resolves nor fires a second time because of the restart.
    const since =
      b.alert.state === "firing"
        ? (b.agent.lastSeenAt ?? Number.NEGATIVE_INFINITY)
        : this.silentSince(b.agent);
    this.step(b, evaluateOffline(b.rule as OfflineRule, since, now), now);
  }

  private step(b: Binding, v: number, now: number): void {
    const a = b.alert;
    const before = a.state;
    const sentBefore = a.lastSentAt;
    const keepBefore = a.keepFiringSince;
    let event = stepAlert(a, !Number.isNaN(v), v, now, b.rule);
    if (event === "repeat" && b.ack !== undefined && ackInForce(b.ack, now)) {
      // Acknowledged: no reminder, and the schedule is left as it was, so one is due as soon as the
      // acknowledgement expires.
      a.lastSentAt = sentBefore;
      event = undefined;
    }
    const after = a.state;
    if (after !== before) this.transitioned(b, before, after);
    else if (
      this.store !== undefined &&
      (a.lastSentAt !== sentBefore || !Object.is(a.keepFiringSince, keepBefore))
    )
      this.dirty.add(b);
    if (event) this.emit(b, event, now, "condition");
  }

  private resolveNow(b: Binding, now: number, reason: ResolveReason): void {
    const before = b.alert.state;
    const event = forceResolve(b.alert, now);
    if (b.alert.state !== before) this.transitioned(b, before, b.alert.state);
    if (event) this.emit(b, event, now, reason);
  }

  private transitioned(b: Binding, before: AlertStateName, after: AlertStateName): void {
    const wasActive = before === "pending" || before === "firing";
    const isActive = after === "pending" || after === "firing";
    if (isActive && !wasActive) {
      b.labels = this.alertLabels(b);
      b.fingerprint = alertFingerprint(b.rule.name, b.labels);
      b.ack = undefined;
      this.active.add(b);
    } else if (wasActive && !isActive) {
      this.active.delete(b);
      b.ack = undefined;
      if (this.store) {
        this.dirty.delete(b);
        this.gone.push(b.fingerprint as string);
      }
      return;
    }
    if (this.store && isActive) this.dirty.add(b);
  }

  private alertLabels(b: Binding): Labels {
    const labels: Record<string, string> = { alertname: b.rule.name, agent: b.agent.id };
    if (b.series) Object.assign(labels, b.series.labels);
    labels.alertname = b.rule.name;
    labels.agent = b.agent.id;
    if (b.rule.labels.length > 0) {
      const ctx = this.templateContext(b);
      for (const [key, template] of b.rule.labels) labels[key] = template(ctx);
    }
    return labels;
  }

  private renderAnnotations(b: Binding): Labels {
    if (b.rule.annotations.length === 0) return EMPTY_LABELS;
    const ctx = this.templateContext(b);
    const out: Record<string, string> = {};
    for (const [key, template] of b.rule.annotations) out[key] = template(ctx);
    return out;
  }

  private templateContext(b: Binding): TemplateContext {
    const rule = b.rule;
    return {
      agent: b.agent.id,
      value: b.alert.value,
      labels: b.series?.labels ?? EMPTY_LABELS,
      rule: rule.name,
      metric: b.series?.metric ?? "",
      severity: rule.severity,
      threshold: "threshold" in rule ? rule.threshold : undefined,
    };
  }

  private emit(b: Binding, type: AlertEventType, now: number, reason: ResolveReason): void {
    const event = this.eventOf(b, type, now, reason);
    if (this.store) this.history.push(historyOf(event));
    this.sink.emit(event);
  }

  /** The event of binding `b` at `now`; `reason` counts only for `resolved`. */
  private eventOf(
    b: Binding,
    type: AlertEventType,
    now: number,
    reason: ResolveReason | undefined,
  ): AlertEvent {
    const resolved = type === "resolved";
    return {
      type,
      fingerprint: b.fingerprint as string,
      rule: b.rule.name,
      kind: b.rule.kind,
      severity: b.rule.severity,
      agent: b.agent.id,
      metric: b.series?.metric,
      labels: b.labels ?? EMPTY_LABELS,
      annotations: this.renderAnnotations(b),
      value: b.alert.value,
      activeAt: b.alert.activeAt,
      firedAt: b.alert.firedAt,
      resolvedAt: resolved ? b.alert.resolvedAt : undefined,
      resolveReason: resolved ? reason : undefined,
      at: now,
    };
  }

  /** A history row for an acknowledgement change. */
  private record(
    b: Binding,
    type: AlertHistoryType,
    now: number,
    reason: string | undefined,
    by?: string,
  ): void {
    if (!this.store) return;
    this.history.push({
      ...historyOf(this.eventOf(b, "firing", now, undefined)),
      type,
      reason,
      by: by ?? b.ack?.by,
      comment: b.ack?.comment,
      expiresAt: b.ack?.expiresAt,
    });
  }

  private firingBinding(fingerprint: string): Binding {
    for (const b of this.active) {
      if (b.fingerprint !== fingerprint) continue;
      if (b.alert.state !== "firing")
        throw new AckError(
          "not_firing",
          `alert ${fingerprint} is pending, not firing: only firing alerts can be acknowledged`,
        );
      return b;
    }
    throw new AckError("unknown_alert", `no active alert with fingerprint ${fingerprint}`);
  }

  /** Takes a saved state for a new binding, if one was saved for it. */
  private restore(b: Binding): void {
    const key = restoreKey(b.rule.name, b.agent.id, b.series?.metric, b.series?.labels ?? EMPTY_LABELS);
    const p = this.restored.get(key);
    if (!p) return;
    this.restored.delete(key);
    const a = b.alert;
    a.state = p.state;
    a.activeAt = p.activeAt;
    a.firedAt = p.firedAt;
    a.lastSentAt = p.lastSentAt;
    a.resolvedAt = 0;
    a.keepFiringSince = p.keepFiringSince ?? Number.NaN;
    a.value = p.value;
    // Pending means the last evaluation was true; firing with keep_firing_for running means false.
    a.lastActive = p.state === "pending" || p.keepFiringSince === undefined;
    b.labels = p.labels;
    b.fingerprint = p.fingerprint;
    b.ack = p.ack;
    this.active.add(b);
  }

  private persisted(b: Binding): PersistedAlert {
    const a = b.alert;
    return {
      fingerprint: b.fingerprint as string,
      rule: b.rule.name,
      kind: b.rule.kind,
      severity: b.rule.severity,
      agent: b.agent.id,
      metric: b.series?.metric,
      seriesLabels: b.series?.labels ?? EMPTY_LABELS,
      labels: b.labels ?? EMPTY_LABELS,
      state: a.state === "firing" ? "firing" : "pending",
      activeAt: a.activeAt,
      firedAt: a.firedAt,
      lastSentAt: a.lastSentAt,
      keepFiringSince: Number.isNaN(a.keepFiringSince) ? undefined : a.keepFiringSince,
      value: a.value,
      ack: b.ack,
    };
  }

  private activeAlert(b: Binding): ActiveAlert {
    const firing = b.alert.state === "firing";
    return {
      fingerprint: b.fingerprint as string,
      rule: b.rule.name,
      kind: b.rule.kind,
      severity: b.rule.severity,
      state: firing ? "firing" : "pending",
      agent: b.agent.id,
      metric: b.series?.metric,
      labels: b.labels ?? EMPTY_LABELS,
      annotations: this.renderAnnotations(b),
      value: b.alert.value,
      activeAt: b.alert.activeAt,
      firedAt: firing ? b.alert.firedAt : undefined,
      lastSentAt: firing ? b.alert.lastSentAt : undefined,
      ack: b.ack,
    };
  }
}

function ackInForce(ack: Acknowledgement, now: number): boolean {
  return ack.expiresAt === undefined || now < ack.expiresAt;
}

function historyOf(e: AlertEvent): AlertHistoryEntry {
  return {
    type: e.type,
    at: e.at,
    fingerprint: e.fingerprint,
    rule: e.rule,
    kind: e.kind,
    severity: e.severity,
    agent: e.agent,
    metric: e.metric,
    labels: e.labels,
    annotations: e.annotations,
    value: e.value,
    activeAt: e.activeAt,
    firedAt: e.firedAt,
    resolvedAt: e.resolvedAt,
    reason: e.resolveReason,
    by: undefined,
    comment: undefined,
    expiresAt: undefined,
  };
}

function restoreKey(rule: string, agent: string, metric: string | undefined, labels: Labels): string {
  return `${rule}\u0002${agent}\u0002${metric === undefined ? "" : seriesKey(metric, labels)}`;
}

function windowSpan(rule: Rule): number | undefined {
  return rule.kind === "rate_of_change" || rule.kind === "trend" ? rule.windowMs : undefined;
}

function newWindow(rule: Rule): SlidingWindow | undefined {
  if (rule.kind === "rate_of_change") return new SlidingWindow(rule.windowMs, RATE_OF_CHANGE_WINDOW);
  if (rule.kind === "trend") return new SlidingWindow(rule.windowMs, TREND_WINDOW);
  return undefined;
}

/** A series' identity within one agent: metric and labels sorted by name. */
export function seriesKey(metric: string, labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length > 1) keys.sort();
  let out = metric;
  for (const k of keys) out += `\u0000${k}\u0001${labels[k]}`;
  return out;
}
