import type { BacktestEpisode } from "@vigil/alerts";

/**
 * One backtest episode as `vigil-server rules backtest --json` prints it and
 * `POST /api/v1/rules/backtest` returns it: snake_case, `null` for what did not happen, and a
 * non-finite value as `null` (what JSON can say of NaN).
 */
export function backtestEpisodeJson(e: BacktestEpisode) {
  return {
    fingerprint: e.fingerprint,
    agent: e.agent,
    labels: e.labels,
    active_at: e.activeAt,
    fired_at: e.firedAt,
    resolved_at: e.resolvedAt ?? null,
    resolve_reason: e.resolveReason ?? null,
    value: Number.isFinite(e.firedValue) ? e.firedValue : null,
    repeats: e.repeats,
  };
}
