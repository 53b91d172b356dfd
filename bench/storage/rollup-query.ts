/**
 * storage.query_30d_step1h_p95_ms: one series' 30 days at a 1-hour step, served from rollups.db (the
 * days finalized, so the engine reads 1-hour rollup rows), against its peer in the same run,
 * storage.query_30d_step1h_raw_p95_ms: the same queries over the raw chunks (an engine without
 * rollups). Data: ROLLUP_SERIES series of one agent, 31 days at 60 s (2-decimal random walks),
 * ingested an hour of every series per batch; the rollups are then built by RollupBuilder (timed, as
 * rollup_build_s on the main figure).
 */
import { performance } from "node:perf_hooks";
import type { SeriesSamples } from "@vigil/common";
import { Catalog, ChunkedStorageEngine, RollupBuilder, RollupStore } from "@vigil/storage";
import { emitFigure, logProgress, significant } from "../harness/figure.js";
import { prng } from "../harness/prng.js";

const NAME = "storage";
const ROLLUP_SERIES = 200;
const DAYS = 31;
const INTERVAL_MS = 60_000;
const RUNS = 100;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const T0 = Date.UTC(2025, 9, 1);

const base = (instance: string) => ({
  agentId: "rollup",
  metric: "cpu_usage_percent",
  matchers: [{ name: "instance", op: "=" as const, value: instance }],
});

async function p95(name: string, run: (instance: string, fromMs: number, toMs: number) => Promise<unknown>) {
  const rnd = prng(11);
  const end = T0 + DAYS * DAY_MS;
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const instance = String(Math.floor(rnd() * ROLLUP_SERIES));
    // On the hour, ending in the last day, so every range is 30 full days.
    const toMs = end - Math.ceil(rnd() * 24) * HOUR_MS;
    const fromMs = toMs - 30 * DAY_MS;
    const start = performance.now();
    await run(instance, fromMs, toMs - 1);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  // `name` first, then `value`, as every other figure prints (docs/benchmarks.md).
  return {
    name,
    value: significant(times[Math.ceil(0.95 * times.length) - 1] as number),
    median: significant(times[Math.floor(times.length / 2)] as number),
    max: significant(times[times.length - 1] as number),
  };
}

export async function rollupQueryRun(dir: string): Promise<void> {
  const catalog = Catalog.open(dir);
  try {
    // Every day file stays open while it is written (hour batches walk through the days in order).
    let engine = ChunkedStorageEngine.open({ dataDir: dir, catalog, maxOpenDays: DAYS + 1 });
    const labels = Array.from({ length: ROLLUP_SERIES }, (_, i) => ({ instance: String(i) }));
    const rnd = prng(5);
    const state = Array.from({ length: ROLLUP_SERIES }, () => Math.round(rnd() * 10_000));
    const perHour = HOUR_MS / INTERVAL_MS;
    for (let h = 0; h < DAYS * 24; h++) {
      const batch: SeriesSamples[] = labels.map((l, i) => {
        const timestamps = new Array<number>(perHour);
        const values = new Array<number>(perHour);
        for (let k = 0; k < perHour; k++) {
          const v = Math.min(10_000, Math.max(0, (state[i] as number) + Math.round((rnd() - 0.5) * 300)));
          state[i] = v;
          timestamps[k] = T0 + h * HOUR_MS + k * INTERVAL_MS;
          values[k] = v / 100;
        }
        return { metric: "cpu_usage_percent", labels: l, timestamps, values };
      });
      await engine.appendBatch("rollup", batch);
    }
    await engine.close();

    engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
    const raw = await p95("storage.query_30d_step1h_raw_p95_ms", (i, fromMs, toMs) =>
      engine.queryRange({ ...base(i), fromMs, toMs, stepMs: HOUR_MS }),
    );
    await engine.close();

    const store = RollupStore.open(dir);
    try {
      const buildStart = performance.now();
      const summary = new RollupBuilder({ dataDir: dir, store }).run(T0 + (DAYS + 3) * DAY_MS);
      const buildS = (performance.now() - buildStart) / 1000;
      logProgress(
        NAME,
        `rollups built in ${buildS.toFixed(1)} s (${summary.samples} samples, ${summary.finalized} days)`,
      );
      engine = ChunkedStorageEngine.open({ dataDir: dir, catalog, rollups: store });
      const fromRollups = await p95("storage.query_30d_step1h_p95_ms", (i, fromMs, toMs) =>
        engine.queryRange({ ...base(i), fromMs, toMs, stepMs: HOUR_MS }),
      );
      await engine.close();
      const shape = {
        queries: RUNS,
        seriesInMetric: ROLLUP_SERIES,
        rangeMs: 30 * DAY_MS,
        intervalMs: INTERVAL_MS,
      };
      emitFigure({
        ...fromRollups,
        unit: "ms",
        ...shape,
        source: "rollups.db (1-hour rows)",
        rollup_build_s: significant(buildS),
        rolled_up_samples: summary.samples,
      });
      emitFigure({ ...raw, unit: "ms", ...shape, source: "raw chunks (peer)" });
    } finally {
      store.close();
    }
  } finally {
    catalog.close();
  }
}

/** For index.ts's progress line. */
export const ROLLUP_BENCH_SHAPE = `${ROLLUP_SERIES} series over ${DAYS} days at ${INTERVAL_MS / 1000} s`;
