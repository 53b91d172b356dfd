import { Backtest, type BacktestSample, parseRule, type Rule } from "@vigil/alerts";
import { parseDuration } from "@vigil/common";
import type { Catalog, StorageEngine } from "@vigil/storage";
import type { FastifyInstance } from "fastify";
import type { AlertRuleSet } from "../alert-rule-set.js";
import { backtestEpisodeJson } from "../backtest-episode-json.js";
import { badRequest, HttpError } from "./http-error.js";
import { parseParam, parseTimeRange } from "./query-params.js";

/** The longest range one backtest request may replay. */
export const MAX_BACKTEST_RANGE_MS = 31 * 86_400_000;
/** Samples are read and replayed this much at a time, yielding to ingest in between. */
const SLICE_MS = 6 * 3_600_000;

const bodySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1 },
    rule: { type: "object" },
    from: { type: "string", minLength: 1 },
    to: { type: "string", minLength: 1 },
    eval_interval: { type: "string", minLength: 1 },
  },
} as const;

interface BacktestBody {
  name?: string;
  rule?: unknown;
  from?: string;
  to?: string;
  eval_interval?: string;
}

/**
 * `POST /api/v1/rules/backtest`: replays stored samples through a rule in force (`name`) or a new one
 * (`rule`, the same body as `POST /api/v1/rules`) and answers when it would have fired and resolved.
 * Reads through the storage engine (the server's own, so safe while it ingests) in 6-hour slices,
 * yielding between them so acks keep flowing; at most `MAX_BACKTEST_RANGE_MS` per request.
 */
export function registerBacktestRoute(
  app: FastifyInstance,
  deps: { catalog: Catalog; storage: StorageEngine; rules: AlertRuleSet; now: () => number },
): void {
  app.post<{ Body: BacktestBody }>(
    "/api/v1/rules/backtest",
    { schema: { body: bodySchema } },
    async (request) => {
      const body = request.body;
      const rule = chooseRule(body, deps.rules);
      const { fromMs, toMs } = parseTimeRange(body.from, body.to, { from: "-7d", to: "now" }, deps.now());
      if (toMs - fromMs > MAX_BACKTEST_RANGE_MS)
        throw badRequest(
          "the range is longer than 31 days; backtest it in parts (or use `vigil-server rules backtest`)",
        );
      const evalIntervalMs = parseParam("eval_interval", body.eval_interval ?? "1s", parseDuration);
      if (evalIntervalMs < 1_000) throw badRequest("eval_interval must be at least 1s");

      let run: Backtest;
      try {
        run = new Backtest(rule, { fromMs, toMs, evalIntervalMs });
      } catch (err) {
        throw badRequest(err instanceof Error ? err.message : String(err));
      }
      const metric = rule.metric;
      const agents = deps.catalog
        .listAgents()
        .map((a) => a.id)
        .filter((id) => rule.matchAgent(id));
      for (let start = fromMs; start <= toMs; start += SLICE_MS) {
        const end = Math.min(start + SLICE_MS - 1, toMs);
        const slice: BacktestSample[] = [];
        for (const agent of agents) {
          const ranges = await deps.storage.queryRange({
            agentId: agent,
            metric,
            matchers: [],
            fromMs: start,
            toMs: end,
          });
          for (const r of ranges)
            for (const [ts, value] of r.points) slice.push({ agent, metric, labels: r.labels, ts, value });
        }
        slice.sort((a, b) => a.ts - b.ts);
        for (const s of slice) run.add(s);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { episodes, samples } = run.finish();
      return {
        rule: rule.name,
        kind: rule.kind,
        from: fromMs,
        to: toMs,
        samples,
        episodes: episodes.map(backtestEpisodeJson),
      };
    },
  );
}

type BacktestableRule = Exclude<Rule, { kind: "offline" }>;

function chooseRule(body: BacktestBody, rules: AlertRuleSet): BacktestableRule {
  if ((body.name === undefined) === (body.rule === undefined))
    throw badRequest('give either "name" (a rule in force) or "rule" (a rule to try), not both or neither');
  let rule: Rule;
  if (body.name !== undefined) {
    const found = rules.all().find((r) => r.name === body.name);
    if (!found) throw new HttpError(404, "not_found", `no rule named ${JSON.stringify(body.name)}`);
    rule = found;
  } else {
    try {
      rule = parseRule(body.rule);
    } catch (err) {
      throw new HttpError(400, "invalid_rule", err instanceof Error ? err.message : String(err));
    }
  }
  if (rule.kind === "offline")
    throw badRequest(
      `rule "${rule.name}" is an offline rule: backtests replay samples, offline needs sightings`,
    );
  return rule;
}
