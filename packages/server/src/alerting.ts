import { type ActiveAlert, AlertEngine, type AlertEvent, type HostHealth, type Rule } from "@vigil/alerts";
import type { Logger, SeriesSamples } from "@vigil/common";
import type { Catalog } from "@vigil/storage";

/** How often the engine is ticked for what time alone changes (`for`, offline, absent, repeats). */
export const ALERT_TICK_MS = 1_000;

/** What ingest tells the alert engine. Never throws: a failing evaluation is logged, ingest goes on. */
export interface AlertIngestHook {
  agentSeen(agentId: string, now: number): void;
  ingest(agentId: string, series: readonly SeriesSamples[], now: number): void;
}

/** The server's alerting: the engine, fed by ingest, ticked every second, events to the log. */
export interface ServerAlerting extends AlertIngestHook {
  readonly engine: AlertEngine;
  activeAlerts(): ActiveAlert[];
  agentHealth(agentId: string, now: number): HostHealth | undefined;
  /** Swaps in a validated rule set (SIGHUP); unchanged rules keep their state. */
  setRules(rules: readonly Rule[]): void;
  stop(): void;
}

export interface AlertingOptions {
  readonly rules: readonly Rule[];
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

/** Creates the engine with the config's rules, registers the catalog's agents and starts the ticker. */
export function startAlerting(opts: AlertingOptions): ServerAlerting {
  const { logger, now } = opts;
  const engine = new AlertEngine({
    now: now(),
    downAfterMs: opts.downAfterMs,
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
  engine.setRules(opts.rules, now());
  for (const agent of opts.catalog.listAgents()) engine.registerAgent(agent.id, agent.lastSeen);

  const guarded = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      logger.error({ err }, `alert engine: ${what} failed`);
    }
  };
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
      engine.setRules(rules, now());
      logger.info({ rules: rules.length, names: rules.map((r) => r.name) }, "alert rules reloaded");
    },
    stop: () => {
      if (ticker) clearInterval(ticker);
    },
  };
}
