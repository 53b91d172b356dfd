import {
  type AcknowledgeInput,
  type ActiveAlert,
  type AgentSettings,
  AlertEngine,
  type AlertEvent,
  type HostHealth,
  type Rule,
  type SystemEventInput,
} from "@vigil/alerts";
import type { Logger, SeriesSamples } from "@vigil/common";
import type { AlertHistoryPage, AlertHistoryQuery, Catalog } from "@vigil/storage";
import { catalogAlertStore } from "./alert-store-adapter.js";

/** How often the engine is ticked for what time alone changes (`for`, offline, absent, repeats). */
export const ALERT_TICK_MS = 1_000;

/** What ingest tells the alert engine. Never throws: a failing evaluation is logged, ingest goes on. */
export interface AlertIngestHook {
  agentSeen(agentId: string, now: number): void;
  ingest(agentId: string, series: readonly SeriesSamples[], now: number): void;
}

/**
 * The server's alerting: the engine, fed by ingest, ticked every second, events to the log; state and
 * history saved in `vigil.db` (one transaction per ingest call or tick that changed something).
 */
export interface ServerAlerting extends AlertIngestHook {
  readonly engine: AlertEngine;
  activeAlerts(): ActiveAlert[];
  agentHealth(agentId: string, now: number): HostHealth | undefined;
  /** Swaps in a validated rule set (SIGHUP); unchanged rules keep their state. */
  setRules(rules: readonly Rule[]): void;
  /** Swaps in per-agent settings (maintenance windows, expected_offline), e.g. on SIGHUP. */
  setAgentSettings(settings: ReadonlyMap<string, AgentSettings>): void;
  /** Acknowledges a firing alert (saved at once); throws AckError for an unknown or pending one. */
  acknowledge(fingerprint: string, input: AcknowledgeInput): ActiveAlert;
  /** Withdraws an acknowledgement (saved at once); throws AckError when there is none. */
  unacknowledge(fingerprint: string, by: string): ActiveAlert;
  /** Logs and records an event the server itself noticed (kind `system`); never throws. */
  raiseSystemEvent(input: SystemEventInput): void;
  /** Alert history, newest first (keyset pages). */
  history(query: AlertHistoryQuery): AlertHistoryPage;
  stop(): void;
}

export interface AlertingOptions {
  readonly rules: readonly Rule[];
  /** `[agents."ID"]` settings; default none. */
  readonly agentSettings?: ReadonlyMap<string, AgentSettings> | undefined;
  readonly catalog: Catalog;
  readonly logger: Logger;
  readonly now: () => number;
  /** Host health says `down` after this much silence (grace periods applied). */
  readonly downAfterMs?: number;
  /** Ticker period; 0 disables the ticker (tests tick by hand). */
  readonly tickMs?: number;
}

/** Writes each alert event to the log: warn for critical/warning `firing`, info otherwise. */
export function logAlertEvent(logger: Logger, event: AlertEvent): void {
  const fields = {
    rule: event.rule,
    severity: event.severity,
    agent: event.agent,
    labels: event.labels,
    annotations: event.annotations,
    value: event.value,
    fingerprint: event.fingerprint,
    ...(event.type === "resolved" ? { reason: event.resolveReason } : {}),
  };
  const msg = `alert ${event.type}`;
  if (event.type === "firing" && event.severity !== "info") logger.warn(fields, msg);
  else logger.info(fields, msg);
}

/**
 * Creates the engine over the catalog's saved alerts (restoring pending and firing ones without
 * notifying again) with the config's rules, registers the catalog's agents and starts the ticker.
 */
export function startAlerting(opts: AlertingOptions): ServerAlerting {
  const { logger, now } = opts;
  const engine = new AlertEngine({
    now: now(),
    downAfterMs: opts.downAfterMs,
    store: catalogAlertStore(opts.catalog, logger),
    sink: {
      emit: (event) => {
        try {
          logAlertEvent(logger, event);
        } catch {
          // A sink must not throw.
        }
      },
    },
  });
  for (const agent of opts.catalog.listAgents()) engine.registerAgent(agent.id, agent.lastSeen);
  if (opts.agentSettings) engine.setAgentSettings(opts.agentSettings, now());
  engine.setRules(opts.rules, now());
  const restored = engine.activeAlerts();
  if (restored.length > 0)
    logger.info(
      { firing: restored.filter((a) => a.state === "firing").length, pending: restored.length },
      "alert state restored",
    );

  // Every change is saved right after the call that made it, in one transaction.
  const guarded = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      logger.error({ err }, `alert engine: ${what} failed`);
    }
    try {
      engine.flush();
    } catch (err) {
      logger.error({ err }, "alert engine: saving alert state failed");
    }
  };
  guarded("restore", () => undefined);
  const tickMs = opts.tickMs ?? ALERT_TICK_MS;
  const ticker =
    tickMs > 0 ? setInterval(() => guarded("tick", () => engine.tick(now())), tickMs) : undefined;
  ticker?.unref();
  logger.info({ rules: opts.rules.length }, "alert engine started");

  return {
    engine,
    agentSeen: (agentId, at) => guarded("agentSeen", () => engine.agentSeen(agentId, at)),
    ingest: (agentId, series, at) => guarded("ingest", () => engine.ingest(agentId, series, at)),
    activeAlerts: () => engine.activeAlerts(),
    agentHealth: (agentId, at) => engine.agentHealth(agentId, at),
    setRules: (rules) => {
      guarded("setRules", () => engine.setRules(rules, now()));
      logger.info({ rules: rules.length, names: rules.map((r) => r.name) }, "alert rules reloaded");
    },
    setAgentSettings: (settings) => {
      guarded("setAgentSettings", () => engine.setAgentSettings(settings, now()));
    },
    acknowledge: (fingerprint, input) => {
      const alert = engine.acknowledge(fingerprint, input, now());
      // Saved before the caller hears "acknowledged": a flush failure is the caller's error.
      engine.flush();
      logger.info({ fingerprint, rule: alert.rule, agent: alert.agent, by: input.by }, "alert acknowledged");
      return alert;
    },
    unacknowledge: (fingerprint, by) => {
      const alert = engine.unacknowledge(fingerprint, by, now());
      engine.flush();
      logger.info(
        { fingerprint, rule: alert.rule, agent: alert.agent, by },
        "alert acknowledgement withdrawn",
      );
      return alert;
    },
    raiseSystemEvent: (input) => guarded("raiseSystemEvent", () => engine.raiseSystemEvent(input, now())),
    history: (query) => opts.catalog.alerts.queryHistory(query),
    stop: () => {
      if (ticker) clearInterval(ticker);
      guarded("stop", () => undefined);
    },
  };
}
