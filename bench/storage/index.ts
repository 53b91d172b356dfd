/**
 * `npm run bench -- storage`: the chunked storage engine (packages/storage/src/chunked-engine.ts) fed
 * the way agents feed it — one tick of every series per batch — against the floor of the old layout:
 * raw better-sqlite3 row inserts of the same samples, time-major, 1,000 per transaction, same run.
 *
 * Figures: storage.ingest_samples_per_s (appendBatch resolved = committed to wal_batches, chunks flushed
 * inline), storage.sqlite_floor_samples_per_s, storage.disk_write_bytes_per_sample (wchar from
 * /proc/self/io over the timed run), storage.bytes_per_sample (day files after close, i.e. chunked);
 * then, on a second data set (one agent's QUERY_SERIES series over 24 h at 10 s, ingested tick by tick,
 * the engine left open so the newest samples are in the head): storage.query_1h_raw_p95_ms,
 * storage.query_24h_step60s_p95_ms and storage.stats_24h_p95_ms (one series per query, p95 by nearest
 * rank over QUERY_RUNS queries each, series and end time picked at random).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { SeriesSamples } from "@vigil/common";
import { Catalog, ChunkedStorageEngine } from "@vigil/storage";
import Database from "better-sqlite3";
import { emitFigure, logProgress, significant } from "../harness/figure.js";
import { prng } from "../harness/prng.js";
import { bytesWritten } from "../harness/proc-io.js";
import { ROLLUP_BENCH_SHAPE, rollupQueryRun } from "./rollup-query.js";

const NAME = "storage";
const SERIES = 10_000;
const WARMUP_TICKS = 40;
const TIMED_TICKS = 250;
const TICK_MS = 10_000;
const T0 = Date.UTC(2025, 10, 25, 1);
const FLOOR_ROWS_PER_TX = 1_000;
const QUERY_SERIES = 200;
const QUERY_TICKS = 8_640 + 360; // 25 h at 10 s: a full day plus an hour before it
const QUERY_RUNS = 300;
const HOUR_MS = 3_600_000;

/** Half the series are 2-decimal random-walk gauges (percent-like), half are counters (bytes). */
class Workload {
  readonly labels = Array.from({ length: SERIES }, (_, i) => ({
    instance: String(i >> 1),
    kind: String(i & 1),
  }));
  readonly #state = new Float64Array(SERIES);
  readonly #rnd = prng(42);

  constructor() {
    for (let i = 0; i < SERIES; i++)
      this.#state[i] = i & 1 ? Math.floor(this.#rnd() * 1e12) : Math.round(this.#rnd() * 10_000);
  }

  /** The batch of tick `t`: every series once. */
  tick(t: number): SeriesSamples[] {
    const ts = T0 + t * TICK_MS;
    const out = new Array<SeriesSamples>(SERIES);
    for (let i = 0; i < SERIES; i++) {
      let v = this.#state[i] as number;
      if (i & 1) v += Math.floor(this.#rnd() * 200_000);
      else v = Math.min(10_000, Math.max(0, v + Math.round((this.#rnd() - 0.5) * 300)));
      this.#state[i] = v;
      out[i] = {
        metric: i & 1 ? "network_receive_bytes_total" : "cpu_usage_percent",
        labels: this.labels[i] as Record<string, string>,
        timestamps: [ts],
        values: [i & 1 ? v : v / 100],
      };
    }
    return out;
  }
}

/**
 * Bytes of the day files after close, less their free pages: the `wal_batches` rows deleted after
 * chunking leave free pages that later rows reuse, a fixed ~24 MB (240 ticks of rows) that a short run
 * would otherwise spread over too few samples. Both are reported.
 */
function dayFileBytes(dir: string): { used: number; free: number } {
  let used = 0;
  let free = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".db"))) {
    const size = statSync(join(dir, name)).size;
    const db = new Database(join(dir, name), { readonly: true });
    const freeBytes =
      (db.pragma("freelist_count", { simple: true }) as number) *
      (db.pragma("page_size", { simple: true }) as number);
    db.close();
    used += size - freeBytes;
    free += freeBytes;
  }
  return { used, free };
}

async function engineRun(dir: string): Promise<void> {
  const catalog = Catalog.open(dir);
  const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
  const w = new Workload();
  for (let t = 0; t < WARMUP_TICKS; t++) await engine.appendBatch("bench", w.tick(t));
  let seconds = 0;
  let samples = 0;
  const written0 = bytesWritten("self");
  for (let t = WARMUP_TICKS; t < WARMUP_TICKS + TIMED_TICKS; t++) {
    const batch = w.tick(t);
    const start = performance.now();
    const r = await engine.appendBatch("bench", batch);
    seconds += (performance.now() - start) / 1000;
    samples += r.accepted;
  }
  const written1 = bytesWritten("self");
  await engine.close();
  catalog.close();
  const total = (WARMUP_TICKS + TIMED_TICKS) * SERIES;
  emitFigure({
    name: "storage.ingest_samples_per_s",
    value: significant(samples / seconds),
    unit: "samples/s",
    series: SERIES,
    samples,
    seconds: significant(seconds),
  });
  if (written0 !== undefined && written1 !== undefined)
    emitFigure({
      name: "storage.disk_write_bytes_per_sample",
      value: significant((written1 - written0) / samples),
      unit: "bytes",
      samples,
    });
  const files = dayFileBytes(join(dir, "samples"));
  emitFigure({
    name: "storage.bytes_per_sample",
    value: significant(files.used / total),
    unit: "bytes",
    samples: total,
    freePageBytes: files.free,
  });
}

function floorRun(dir: string): void {
  const db = new Database(join(dir, "floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(
    "CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID",
  );
  const insert = db.prepare("INSERT OR IGNORE INTO samples (series_id, ts, value) VALUES (?, ?, ?)");
  const tx = db.transaction((batch: SeriesSamples[], from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const s = batch[i] as SeriesSamples;
      insert.run(i + 1, s.timestamps[0] as number, s.values[0] as number);
    }
  });
  const w = new Workload();
  // Prefill like the engine's warm-up, and more: the floor slows as the B-tree outgrows the cache.
  for (let t = 0; t < WARMUP_TICKS; t++) {
    const b = w.tick(t);
    for (let i = 0; i < SERIES; i += FLOOR_ROWS_PER_TX) tx(b, i, Math.min(SERIES, i + FLOOR_ROWS_PER_TX));
  }
  let seconds = 0;
  let samples = 0;
  for (let t = WARMUP_TICKS; t < WARMUP_TICKS + TIMED_TICKS; t++) {
    const b = w.tick(t);
    const start = performance.now();
    for (let i = 0; i < SERIES; i += FLOOR_ROWS_PER_TX) tx(b, i, Math.min(SERIES, i + FLOOR_ROWS_PER_TX));
    seconds += (performance.now() - start) / 1000;
    samples += SERIES;
  }
  db.close();
  emitFigure({
    name: "storage.sqlite_floor_samples_per_s",
    value: significant(samples / seconds),
    unit: "samples/s",
    series: SERIES,
    samples,
    seconds: significant(seconds),
    rowsPerTransaction: FLOOR_ROWS_PER_TX,
  });
}

/** The QUERY_SERIES series of one agent over 25 h; p95 latency of the three query shapes. */
async function queryRun(dir: string): Promise<void> {
  const catalog = Catalog.open(dir);
  const engine = ChunkedStorageEngine.open({ dataDir: dir, catalog });
  try {
    const labels = Array.from({ length: QUERY_SERIES }, (_, i) => ({ instance: String(i) }));
    const rnd = prng(7);
    const state = Array.from({ length: QUERY_SERIES }, () => Math.round(rnd() * 10_000));
    for (let t = 0; t < QUERY_TICKS; t++) {
      const ts = T0 + t * TICK_MS;
      const batch: SeriesSamples[] = labels.map((l, i) => {
        const v = Math.min(10_000, Math.max(0, (state[i] as number) + Math.round((rnd() - 0.5) * 300)));
        state[i] = v;
        return { metric: "cpu_usage_percent", labels: l, timestamps: [ts], values: [v / 100] };
      });
      await engine.appendBatch("query", batch);
    }
    const end = T0 + (QUERY_TICKS - 1) * TICK_MS;
    const p95 = async (
      name: string,
      span: number,
      run: (instance: string, toMs: number) => Promise<unknown>,
    ) => {
      const times: number[] = [];
      for (let r = 0; r < QUERY_RUNS; r++) {
        const instance = String(Math.floor(rnd() * QUERY_SERIES));
        // An end time in the last hour of data, so every range is full.
        const toMs = end - Math.floor(rnd() * HOUR_MS);
        const start = performance.now();
        await run(instance, toMs);
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      emitFigure({
        name,
        value: significant(times[Math.ceil(0.95 * times.length) - 1] as number),
        unit: "ms",
        median: significant(times[Math.floor(times.length / 2)] as number),
        max: significant(times[times.length - 1] as number),
        queries: QUERY_RUNS,
        seriesInMetric: QUERY_SERIES,
        rangeMs: span,
      });
    };
    const base = (instance: string) => ({
      agentId: "query",
      metric: "cpu_usage_percent",
      matchers: [{ name: "instance", op: "=" as const, value: instance }],
    });
    await p95("storage.query_1h_raw_p95_ms", HOUR_MS, (i, toMs) =>
      engine.queryRange({ ...base(i), fromMs: toMs - HOUR_MS, toMs }),
    );
    await p95("storage.query_24h_step60s_p95_ms", 24 * HOUR_MS, (i, toMs) =>
      engine.queryRange({ ...base(i), fromMs: toMs - 24 * HOUR_MS, toMs, stepMs: 60_000 }),
    );
    await p95("storage.stats_24h_p95_ms", 24 * HOUR_MS, (i, toMs) =>
      engine.queryStats({ ...base(i), fromMs: toMs - 24 * HOUR_MS, toMs }),
    );
  } finally {
    await engine.close();
    catalog.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), "vigil-bench-storage-"));
try {
  logProgress(NAME, `engine: ${SERIES} series, ${TIMED_TICKS} timed ticks`);
  await engineRun(join(dir, "engine"));
  logProgress(NAME, `queries: ${QUERY_SERIES} series over 25 h, ${QUERY_RUNS} queries per shape`);
  await queryRun(join(dir, "query"));
  logProgress(NAME, `30-day queries from rollups and raw chunks: ${ROLLUP_BENCH_SHAPE}`);
  await rollupQueryRun(join(dir, "rollup"));
  logProgress(NAME, "floor: raw better-sqlite3 row inserts");
  floorRun(mkdtempSync(join(dir, "floor-")));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
