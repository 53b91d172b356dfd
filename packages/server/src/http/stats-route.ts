import { parseLabelMatchers, parseTimeSpec } from "@vigil/common";
import type { StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { badRequest } from "./http-error.js";
import { parseParam } from "./metrics-route.js";

const querySchema = {
  type: "object",
  required: ["agent", "metric"],
  additionalProperties: false,
  properties: {
    agent: { type: "string", minLength: 1 },
    metric: { type: "string", minLength: 1 },
    labels: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
  },
} as const;

interface StatsQuery {
  agent: string;
  metric: string;
  labels?: string;
  from?: string;
  to?: string;
}

/**
 * `GET /api/v1/stats?agent=&metric=&labels=k=v,…&from=&to=`: per series with samples in the range,
 * `{labels, min, max, avg, p95, count}` (p95 by nearest rank, docs/api.md). `from` defaults to `-1h`,
 * `to` to `now`. Reads raw samples: ranges whose day files retention deleted have no stats.
 */
export function registerStatsRoute(app: FastifyInstance, storage: StorageEngine, now: () => number): void {
  app.get<{ Querystring: StatsQuery }>(
    "/api/v1/stats",
    { schema: { querystring: querySchema } },
    async (request) => {
      const q = request.query;
      const nowMs = now();
      const fromMs = parseParam("from", q.from ?? "-1h", (t) => parseTimeSpec(t, nowMs));
      const toMs = parseParam("to", q.to ?? "now", (t) => parseTimeSpec(t, nowMs));
      if (fromMs > toMs) throw badRequest(`from (${fromMs}) is after to (${toMs})`);
      const matchers = parseParam("labels", q.labels ?? "", parseLabelMatchers);
      const series = await storage.queryStats({ agentId: q.agent, metric: q.metric, matchers, fromMs, toMs });
      return { agent: q.agent, metric: q.metric, from: fromMs, to: toMs, series };
    },
  );
}
