import { existsSync } from "node:fs";
import { join } from "node:path";
import { Backtest, type BacktestEpisode, type BacktestSample, parseRules, type Rule } from "@vigil/alerts";
import {
  createLogger,
  type Labels,
  parseCliArgs,
  parseDuration,
  parseTimeSpec,
  readTomlFile,
  UsageError,
} from "@vigil/common";
import {
  Catalog,
  catalogPath,
  dayNumber,
  dayNumberFileName,
  readDayFileSamples,
  samplesDir,
} from "@vigil/storage";
import { AlertRuleSet } from "../alert-rule-set.js";
import { backtestEpisodeJson } from "../backtest-episode-json.js";
import { loadServerConfig } from "../config.js";
import type { CliIo } from "./main.js";

/** Samples are read this much at a time: a slice of 1 s samples stays far below the raw-point limit. */
const SLICE_MS = 6 * 3_600_000;

/**
 * `vigil-server rules backtest --config FILE --rule NAME [--rule-file FILE.toml] --from -7d [--to now]
 * [--eval-interval 1s] [--json]`: replays the stored samples of every agent the rule selects through the
 * rule in a fresh engine and prints when it would have fired and resolved. Exit 0 ok, 2 bad usage or an
 * unknown rule.
 */
export async function rulesBacktestCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCliArgs(
    argv,
    {
      config: { type: "string" },
      rule: { type: "string" },
      "rule-file": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "eval-interval": { type: "string" },
      json: { type: "boolean" },
    },
    0,
  );
  if (!values.rule) throw new UsageError("rules backtest needs --rule NAME");
  if (!values.from)
    throw new UsageError("rules backtest needs --from TIME (e.g. -7d or 2026-11-18T00:00:00Z)");
  const nowMs = Date.now();
  const fromMs = timeOption("--from", values.from, nowMs);
  const toMs = timeOption("--to", values.to ?? "now", nowMs);
  if (toMs < fromMs) throw new UsageError(`--to (${values.to}) is before --from (${values.from})`);
  let evalIntervalMs = 1000;
  if (values["eval-interval"] !== undefined) {
    try {
      evalIntervalMs = parseDuration(values["eval-interval"]);
    } catch (err) {
      throw new UsageError(`--eval-interval: ${(err as Error).message}`);
    }
    if (evalIntervalMs <= 0) throw new UsageError("--eval-interval must be more than 0");
  }
  const config = loadServerConfig(values.config, io.env, io.cwd);
  // Read-only: the day files are read the way `readDayFileSamples` does (chunks, stragglers and
  // wal_batches in one read transaction) and nothing is written, so this is safe beside a running
  // server. Opening the engine here would start a second writer on the same files. Without a catalog
  // there is nothing stored (and no API rule), so none is created.
  const catalog = existsSync(catalogPath(config.dataDir)) ? Catalog.open(config.dataDir) : undefined;
  let rule: Rule;
  let episodes: BacktestEpisode[];
  let samples: number;
  try {
    const inForce = catalog
      ? AlertRuleSet.load(
          catalog,
          config.alertRules,
          createLogger({ name: "vigil-server", level: "warn", destination: io.stderr }),
        ).all()
      : config.alertRules;
    rule = findRule(values.rule, values["rule-file"], inForce, values.config);
    if (rule.kind === "offline")
      throw new UsageError(
        `rule "${rule.name}" is an offline rule: backtest replays samples, offline needs sightings`,
      );
    const run = new Backtest(rule, { fromMs, toMs, evalIntervalMs });
    const metric = rule.metric;
    const series = new Map<number, { agent: string; labels: Labels }>();
    for (const agent of catalog?.listAgents() ?? []) {
      if (!rule.matchAgent(agent.id)) continue;
      for (const s of catalog?.findSeries({ agentId: agent.id, metric }) ?? [])
        series.set(s.id, { agent: agent.id, labels: s.labels });
    }
    const seriesIds = new Set(series.keys());
    for (let start = fromMs; start <= toMs && seriesIds.size > 0; start += SLICE_MS) {
      const end = Math.min(start + SLICE_MS - 1, toMs);
      const slice: BacktestSample[] = [];
      for (let day = dayNumber(start); day <= dayNumber(end); day++) {
        const path = join(samplesDir(config.dataDir), dayNumberFileName(day));
        for (const { seriesId, ts, value } of readDayFileSamples(path, {
          seriesIds,
          fromMs: start,
          toMs: end,
        })) {
          const s = series.get(seriesId) as { agent: string; labels: Labels };
          slice.push({ agent: s.agent, metric, labels: s.labels, ts, value });
        }
      }
      slice.sort((a, b) => a.ts - b.ts);
      for (const s of slice) run.add(s);
    }
    ({ episodes, samples } = run.finish());
  } finally {
    catalog?.close();
  }

  if (values.json) {
    for (const e of episodes) {
      io.stdout.write(`${JSON.stringify({ rule: rule.name, ...backtestEpisodeJson(e) })}\n`);
    }
    return 0;
  }
  io.stdout.write(
    `rule ${rule.name} (${rule.kind}) from ${iso(fromMs)} to ${iso(toMs)}: ${samples} samples, ` +
      `${episodes.length} firing episode${episodes.length === 1 ? "" : "s"}\n`,
  );
  if (episodes.length === 0) return 0;
  const rows = [
    ["AGENT", "FIRED_AT", "RESOLVED_AT", "FIRING_FOR", "VALUE", "LABELS"],
    ...episodes.map((e) => [
      e.agent,
      iso(e.firedAt),
      e.resolvedAt === undefined ? "(still firing)" : iso(e.resolvedAt),
      formatSpan((e.resolvedAt ?? toMs) - e.firedAt),
      String(Number(e.firedValue.toPrecision(6))),
      Object.entries(e.labels)
        .filter(([k]) => k !== "alertname" && k !== "agent")
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "-",
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    io.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
  return 0;
}

function timeOption(flag: string, text: string, nowMs: number): number {
  try {
    return parseTimeSpec(text, nowMs);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

/** The rule from `--rule-file` when given, else from the rules in force (config and API). */
function findRule(
  name: string,
  ruleFile: string | undefined,
  configRules: readonly Rule[],
  configFile: string | undefined,
): Rule {
  let rules = configRules;
  let where = configFile ?? "the built-in config";
  if (ruleFile !== undefined) {
    const { source, data } = readTomlFile(ruleFile);
    rules = parseRules(data, ruleFile, source);
    where = ruleFile;
  }
  const rule = rules.find((r) => r.name === name);
  if (!rule) {
    const known = rules.map((r) => r.name).join(", ") || "none";
    throw new UsageError(`no rule named "${name}" in ${where} (rules there: ${known})`);
  }
  return rule;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function formatSpan(ms: number): string {
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${d > 0 ? `${d}d` : ""}${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${s}s`;
}
