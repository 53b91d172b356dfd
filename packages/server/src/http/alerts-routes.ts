import type { FastifyInstance } from "fastify";
import type { ServerAlerting } from "../alerting.js";

/** `GET /api/v1/alerts`: the alerts pending or firing now, firing first, then by rule and fingerprint. */
export function registerAlertsRoutes(app: FastifyInstance, alerts: ServerAlerting): void {
  app.get("/api/v1/alerts", async () => {
    const list = alerts
      .activeAlerts()
      .sort(
        (a, b) =>
          (a.state === b.state ? 0 : a.state === "firing" ? -1 : 1) ||
          a.rule.localeCompare(b.rule) ||
          a.fingerprint.localeCompare(b.fingerprint),
      );
    return {
      alerts: list.map((a) => ({
        fingerprint: a.fingerprint,
        rule: a.rule,
        kind: a.kind,
        severity: a.severity,
        state: a.state,
        agent: a.agent,
        metric: a.metric ?? null,
        labels: a.labels,
        annotations: a.annotations,
        value: a.value,
        active_at: a.activeAt,
        fired_at: a.firedAt ?? null,
      })),
    };
  });
}
