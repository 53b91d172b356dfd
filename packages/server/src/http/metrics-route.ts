import { parseDuration } from "@vigil/common";
import type { StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import { badRequest } from "./http-error.js";
import { parseLabelsParam, parseParam, parseTimeRange, SERIES_QUERY_PROPERTIES } from "./query-params.js";

const querySchema = {
  type: "object",
  required: ["agent", "metric"],
  additionalProperties: false,
  properties: { ...SERIES_QUERY_PROPERTIES, step: { type: "string" } },
} as const;

interface MetricsQuery {
  agent: string;
  metric: string;
  labels?: string;
  from?: string;
  to?: string;
  step?: string;
}

/** Step buckets may not be finer than this, nor more numerous than MAX_BUCKETS. */
const MIN_STEP_MS = 1_000;
const MAX_BUCKETS = 11_000;

/**
 * `GET /api/v1/metrics?agent=&metric=&labels=k=v,…&from=&to=&step=`: raw points `[ts, value]`,
 * or with `step` buckets `[ts, avg, min, max, count]`. `from` defaults to `-1h`, `to` to `now`.
 */
export function registerMetricsRoute(app: FastifyInstance, storage: StorageEngine, now: () => number): void {
  app.get<{ Querystring: MetricsQuery }>(
    "/api/v1/metrics",
    { schema: { querystring: querySchema } },
    async (request) => {
      const q = request.query;
      const { fromMs, toMs } = parseTimeRange(q.from, q.to, { from: "-1h", to: "now" }, now());
      const matchers = parseLabelsParam(q.labels);
      const base = { agentId: q.agent, metric: q.metric, matchers, fromMs, toMs };
      if (q.step === undefined) {
        const series = await storage.queryRange({ ...base, stepMs: undefined });
        return {
          agent: q.agent,
          metric: q.metric,
          from: fromMs,
          to: toMs,
          step: null,
          columns: ["ts", "value"],
          series,
        };
      }
      const stepMs = parseParam("step", q.step, parseDuration);
      if (stepMs < MIN_STEP_MS) throw badRequest(`step must be at least ${MIN_STEP_MS / 1000}s`);
      // Buckets start at from, from + step, …, up to and including the one holding `to`.
      if (Math.floor((toMs - fromMs) / stepMs) + 1 > MAX_BUCKETS) {
        throw badRequest(
          `step ${q.step} gives more than ${MAX_BUCKETS} buckets over this range; use a larger step`,
        );
      }
      const series = await storage.queryRange({ ...base, stepMs });
      return {
        agent: q.agent,
        metric: q.metric,
        from: fromMs,
        to: toMs,
        step: stepMs,
        columns: ["ts", "avg", "min", "max", "count"],
        series,
      };
    },
  );
}
