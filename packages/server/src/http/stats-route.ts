import type { StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { parseLabelsParam, parseTimeRange, SERIES_QUERY_PROPERTIES } from "./query-params.js";

const querySchema = {
  type: "object",
  required: ["agent", "metric"],
  additionalProperties: false,
  properties: SERIES_QUERY_PROPERTIES,
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
      const { fromMs, toMs } = parseTimeRange(q.from, q.to, { from: "-1h", to: "now" }, now());
      const matchers = parseLabelsParam(q.labels);
      const series = await storage.queryStats({ agentId: q.agent, metric: q.metric, matchers, fromMs, toMs });
      return { agent: q.agent, metric: q.metric, from: fromMs, to: toMs, series };
    },
  );
}
