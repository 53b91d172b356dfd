/**
 * bench/alerts: rule-sample evaluations per second through the alert engine, 10,000 series × 20 rules
 * at 1 s updates, next to the floor (a bare loop over the same samples, once per rule), and the engine's
 * memory per sliding-window entry. Figures go to stdout, one JSON line each; progress to stderr.
 * docs/benchmarks.md explains every figure.
 */
import { cpus } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AlertEngine, type AlertEvent, parseRule, type Rule } from "@vigil/alerts";
import type { SeriesSamples } from "@vigil/common";
import { installCleanupHooks } from "../harness/cleanup.js";
import { emitFigure, logProgress, significant } from "../harness/figure.js";

const BENCHMARK = "alerts";
const HARD_LIMIT_MS = 180_000;
const AGENTS = 100;
const SERIES_PER_AGENT = 100;
const SERIES = AGENTS * SERIES_PER_AGENT;
const TICK_MS = 1_000;
/** Fills every 60 s window before timing starts. */
const PREFILL_TICKS = 61;
const TIMED_TICKS = 30;
const START_MS = 1_764_000_000_000;

const log = (message: string) => logProgress(BENCHMARK, message);

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** 8 threshold, 6 rate_of_change (1 m window), 6 trend (1 m window): every rule selects every series. */
function benchRules(): Rule[] {
  const defs: Record<string, unknown>[] = [];
  const ops = [">", ">=", "<", "<="];
  for (let i = 0; i < 8; i++) {
    const op = ops[i % 4];
    defs.push({
      name: `threshold_${i}`,
      kind: "threshold",
      metric: "bench_value",
      op,
      threshold: op?.startsWith(">") ? 95 + i / 2 : 5 - i / 2,
      for: "30s",
      annotations: { summary: "{{ $agent }} {{ $labels.i }} at {{ $value }}" },
    });
  }
  for (let i = 0; i < 6; i++) {
    defs.push({
      name: `rate_${i}`,
      kind: "rate_of_change",
      metric: "bench_value",
      window: "1m",
      change: i % 2 === 0 ? "percent" : "absolute",
      direction: (["up", "down", "any"] as const)[i % 3],
      threshold: i % 2 === 0 ? 200 : 60,
    });
  }
  for (let i = 0; i < 6; i++) {
    defs.push({
      name: `trend_${i}`,
      kind: "trend",
      metric: "bench_value",
      window: "1m",
      horizon: `${10 + i}m`,
      op: i % 2 === 0 ? ">=" : "<",
      threshold: i % 2 === 0 ? 250 : -150,
    });
  }
  return defs.map((d, i) => parseRule(d, i));
}

/** A seeded random walk per series, kept within 0–100 like a percentage. */
function makeValues(ticks: number): Float64Array {
  const values = new Float64Array(ticks * SERIES);
  let seed = 42;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed / 4_294_967_296;
  };
  const current = new Float64Array(SERIES).map(() => 20 + rand() * 60);
  for (let t = 0; t < ticks; t++) {
    for (let s = 0; s < SERIES; s++) {
      const next = Math.min(100, Math.max(0, (current[s] as number) + (rand() - 0.5) * 1));
      current[s] = next;
      values[t * SERIES + s] = next;
    }
  }
  return values;
}

function labelsFor(): { i: string }[][] {
  return Array.from({ length: AGENTS }, () =>
    Array.from({ length: SERIES_PER_AGENT }, (_, s) => ({ i: String(s) })),
  );
}

function batches(values: Float64Array, tick: number, labels: { i: string }[][]): SeriesSamples[][] {
  const ts = START_MS + tick * TICK_MS;
  return labels.map((agentLabels, a) =>
    agentLabels.map((l, s) => ({
      metric: "bench_value",
      labels: l,
      timestamps: [ts],
      values: [values[tick * SERIES + a * SERIES_PER_AGENT + s] as number],
    })),
  );
}

function heapBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function main(): void {
  installCleanupHooks(BENCHMARK, HARD_LIMIT_MS);
  log(`node ${process.version}, ${cpus().length} CPUs`);
  const rules = benchRules();
  const ticks = PREFILL_TICKS + TIMED_TICKS;
  const values = makeValues(ticks);
  const labels = labelsFor();
  const agents = labels.map((_, a) => `bench-${a}`);
  let events = 0;
  const counts: Record<AlertEvent["type"], number> = { firing: 0, resolved: 0, repeat: 0 };
  const sink = {
    emit(e: AlertEvent) {
      events++;
      counts[e.type]++;
    },
  };

  const before = heapBytes();
  const engine = new AlertEngine({ sink, now: START_MS });
  engine.setRules(rules, START_MS);
  log(`prefill: ${PREFILL_TICKS} ticks of ${SERIES} series × ${rules.length} rules`);
  const run = (tick: number): number => {
    const input = batches(values, tick, labels);
    const now = START_MS + tick * TICK_MS;
    const t0 = process.hrtime.bigint();
    for (let a = 0; a < AGENTS; a++) engine.ingest(agents[a] as string, input[a] as SeriesSamples[], now);
    engine.tick(now);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  for (let t = 0; t < PREFILL_TICKS; t++) run(t);
  const stats = engine.stats();
  const after = heapBytes();
  const prefillEvents = events;
  events = 0;
  for (const k of Object.keys(counts) as AlertEvent["type"][]) counts[k] = 0;

  log(`timed: ${TIMED_TICKS} ticks`);
  let engineSeconds = 0;
  let floorSeconds = 0;
  let floorSum = 0;
  const tickRates: number[] = [];
  for (let t = PREFILL_TICKS; t < ticks; t++) {
    const seconds = run(t);
    engineSeconds += seconds;
    tickRates.push((SERIES * rules.length) / seconds);
    // The floor: every rule "looks at" every sample once, and does nothing else.
    const input = batches(values, t, labels);
    const f0 = process.hrtime.bigint();
    for (const agentBatch of input) {
      for (const series of agentBatch) {
        const v = series.values;
        for (let r = 0; r < rules.length; r++) for (let k = 0; k < v.length; k++) floorSum += v[k] as number;
      }
    }
    floorSeconds += Number(process.hrtime.bigint() - f0) / 1e9;
  }
  const evaluations = SERIES * rules.length * TIMED_TICKS;
  const common = {
    series: SERIES,
    rules: rules.length,
    ticks: TIMED_TICKS,
    evaluations,
    cpus: cpus().length,
  };
  const engineRate = evaluations / engineSeconds;
  const floorRate = evaluations / floorSeconds;
  emitFigure({
    name: "alerts.evaluations_per_s",
    value: significant(engineRate),
    unit: "evaluations/s",
    ...common,
    seconds: significant(engineSeconds),
    min_tick: significant(Math.min(...tickRates)),
    max_tick: significant(Math.max(...tickRates)),
    events,
    prefill_events: prefillEvents,
    firing: counts.firing,
    resolved: counts.resolved,
    repeat: counts.repeat,
  });
  emitFigure({
    name: "alerts.floor_evaluations_per_s",
    value: significant(floorRate),
    unit: "evaluations/s",
    ...common,
    seconds: significant(floorSeconds),
    checksum: significant(floorSum),
  });
  emitFigure({
    name: "alerts.engine_vs_floor_ratio",
    value: significant(engineRate / floorRate),
    unit: "ratio",
    ...common,
  });
  const engineBytes = after - before;
  emitFigure({
    name: "alerts.bytes_per_window_entry",
    value: significant(engineBytes / stats.windowEntries),
    unit: "bytes/entry",
    heap_bytes: engineBytes,
    windows: stats.windows,
    window_entries: stats.windowEntries,
    bindings: stats.bindings,
    series: stats.series,
  });
  emitFigure({
    name: "alerts.window_storage_bytes_per_entry",
    value: significant(stats.windowStorageBytes / stats.windowEntries),
    unit: "bytes/entry",
    storage_bytes: stats.windowStorageBytes,
    window_entries: stats.windowEntries,
  });
}

main();
