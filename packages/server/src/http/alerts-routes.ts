import { type ActiveAlert, isAckError, SEVERITIES } from "@vigil/alerts";
import { parseDuration, parseTimeSpec } from "@vigil/common";
import { type AlertHistoryRow, isStorageError } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import type { ServerAlerting } from "../alerting.js";
import { badRequest, HttpError } from "./http-error.js";
import { parseParam } from "./query-params.js";

/** The longest acknowledgement `expires_in` allows: past it, an acknowledgement should be a silence. */
const MAX_ACK_MS = 30 * 86_400_000;

/**
 * `GET /api/v1/alerts`: the alerts pending or firing now, firing first, then by rule and fingerprint.
 * `GET /api/v1/alerts/history`: fired / repeated / acknowledged / resolved events, newest first, pages
 * by `cursor`. `POST /api/v1/alerts/:fingerprint/ack`: acknowledge a firing alert (stops repeats).
 */
export function registerAlertsRoutes(app: FastifyInstance, alerts: ServerAlerting, now: () => number): void {
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
        ack: ackView(a),
      })),
    };
  });

  app.get<{
    Querystring: {
      severity?: string;
      agent?: string;
      from?: string;
      to?: string;
      limit?: string;
      cursor?: string;
    };
  }>(
    "/api/v1/alerts/history",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            severity: { type: "string", enum: [...SEVERITIES] },
            agent: { type: "string", minLength: 1 },
            from: { type: "string", minLength: 1 },
            to: { type: "string", minLength: 1 },
            limit: { type: "string", pattern: "^[0-9]{1,6}$" },
            cursor: { type: "string", minLength: 1 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const nowMs = now();
      const fromMs =
        q.from === undefined ? undefined : parseParam("from", q.from, (t) => parseTimeSpec(t, nowMs));
      const toMs = q.to === undefined ? undefined : parseParam("to", q.to, (t) => parseTimeSpec(t, nowMs));
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs)
        throw badRequest(`from (${fromMs}) is after to (${toMs})`);
      try {
        const page = alerts.history({
          severity: q.severity,
          agent: q.agent,
          fromMs,
          toMs,
          limit: q.limit === undefined ? undefined : Number(q.limit),
          cursor: q.cursor,
        });
        return { entries: page.entries.map(historyView), next_cursor: page.nextCursor ?? null };
      } catch (err) {
        if (isStorageError(err) && err.code === "invalid_argument") throw badRequest(err.message);
        throw err;
      }
    },
  );

  app.post<{ Params: { fingerprint: string }; Body: { comment?: string; expires_in?: string } }>(
    "/api/v1/alerts/:fingerprint/ack",
    {
      schema: {
        params: FINGERPRINT_PARAMS,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            comment: { type: "string", maxLength: 1000 },
            expires_in: { type: "string", minLength: 1 },
          },
        },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const nowMs = now();
      let expiresAt: number | undefined;
      if (body.expires_in !== undefined) {
        const ms = parseParam("expires_in", body.expires_in, parseDuration);
        if (ms <= 0 || ms > MAX_ACK_MS) throw badRequest("expires_in must be more than 0 and at most 30d");
        expiresAt = nowMs + ms;
      }
      const by = request.apiToken?.name ?? "unknown";
      try {
        const alert = alerts.acknowledge(request.params.fingerprint, {
          by,
          comment: body.comment ?? "",
          expiresAt,
        });
        return { fingerprint: alert.fingerprint, rule: alert.rule, agent: alert.agent, ack: ackView(alert) };
      } catch (err) {
        throw ackHttpError(err);
      }
    },
  );

  app.delete<{ Params: { fingerprint: string } }>(
    "/api/v1/alerts/:fingerprint/ack",
    { schema: { params: FINGERPRINT_PARAMS } },
    async (request) => {
      const by = request.apiToken?.name ?? "unknown";
      try {
        const alert = alerts.unacknowledge(request.params.fingerprint, by);
        return { fingerprint: alert.fingerprint, rule: alert.rule, agent: alert.agent, ack: null };
      } catch (err) {
        throw ackHttpError(err);
      }
    },
  );
}

const FINGERPRINT_PARAMS = {
  type: "object",
  properties: { fingerprint: { type: "string", pattern: "^[0-9a-f]{16}$" } },
} as const;

/** An AckError as the HTTP status a client can act on; anything else is rethrown as it is. */
function ackHttpError(err: unknown): unknown {
  if (!isAckError(err)) return err;
  if (err.code === "unknown_alert") return new HttpError(404, "not_found", err.message);
  if (err.code === "not_firing") return new HttpError(409, "not_firing", err.message);
  if (err.code === "not_acknowledged") return new HttpError(409, "not_acknowledged", err.message);
  return badRequest(err.message);
}

function ackView(a: ActiveAlert) {
  return a.ack
    ? { by: a.ack.by, comment: a.ack.comment, at: a.ack.at, expires_at: a.ack.expiresAt ?? null }
    : null;
}

function historyView(e: AlertHistoryRow) {
  return {
    id: e.id,
    type: e.type,
    at: e.at,
    fingerprint: e.fingerprint,
    rule: e.rule,
    kind: e.kind,
    severity: e.severity,
    agent: e.agent,
    metric: e.metric ?? null,
    labels: e.labels,
    annotations: e.annotations,
    value: Number.isNaN(e.value) ? null : e.value,
    active_at: e.activeAt,
    fired_at: e.firedAt,
    resolved_at: e.resolvedAt ?? null,
    reason: e.reason ?? null,
    by: e.by ?? null,
    comment: e.comment ?? null,
    expires_at: e.expiresAt ?? null,
  };
}
