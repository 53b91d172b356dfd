/**
 * bench/ingest: samples per second from a loopback gRPC client through the real `vigil-server` into its
 * day file, next to the floor (raw better-sqlite3 inserts of the same rows into the same table), and
 * bytes on disk per sample for both. Figures go to stdout, one JSON line each; progress to stderr.
 * docs/benchmarks.md explains every figure and how to read the ratio.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { installCleanupHooks, onCleanup, runCleanups } from "../harness/cleanup.js";
import { emitFigure, logProgress, significant } from "../harness/figure.js";
import { bytesWritten } from "../harness/proc-io.js";
import { type Frame, IngestSession, register, type SendResult, toFrames } from "./ingest-session.js";
import { type ServerProcess, startServer } from "./server-process.js";
import { type FloorFile, fileBytes, SqliteFloor } from "./sqlite-floor.js";
import { type BatchSeries, buildWorkload, type Shape, sampleCount } from "./workload.js";

const BENCHMARK = "ingest";
/** The whole run is killed (server child included) past this, whatever it is doing. */
const HARD_LIMIT_MS = 180_000;
/** Unacked batches in flight per stream (the server pauses a stream at 32). */
const WINDOW = 16;
/**
 * The timed batches are split into rounds that alternate floor and server (F S, S F, F S), so a slow
 * spell of this noisy machine lands on both sides instead of skewing the ratio.
 */
const ROUNDS = 3;
const DAY_MS = 86_400_000;
/** Set to a folder to have the server child write a V8 CPU profile there when it stops. */
const CPU_PROF_ENV = "VIGIL_BENCH_CPU_PROF_DIR";

interface BenchShape extends Shape {
  /** The shape's samples carry timestamps of the UTC day this many days before today. */
  readonly daysAgo: number;
  readonly agentId: string;
}

/**
 * Each shape goes to its own agent and its own UTC day (yesterday, the day before), so each day file
 * holds exactly one shape's samples and its bytes per sample are that shape's.
 */
const SHAPES: readonly BenchShape[] = [
  {
    // What one agent sends per tick: 1,000 series, one sample each.
    name: "agent_tick",
    seriesPerBatch: 1_000,
    ticksPerBatch: 1,
    prefillTicks: 400,
    timedBatches: 150,
    tickIntervalMs: 1_000,
    daysAgo: 1,
    agentId: "bench-agent-tick",
  },
  {
    // A backlog after a reconnect: 500 series, ten ticks each.
    name: "bulk",
    seriesPerBatch: 500,
    ticksPerBatch: 10,
    prefillTicks: 400,
    timedBatches: 90,
    tickIntervalMs: 1_000,
    daysAgo: 2,
    agentId: "bench-agent-bulk",
  },
];

const log = (message: string) => logProgress(BENCHMARK, message);

/** Samples, seconds and bytes written of one side, summed over the rounds, with each round's rate. */
interface Timing {
  samples: number;
  seconds: number;
  /** `wchar` growth of the writing process; undefined where /proc could not tell. */
  written: number | undefined;
  readonly roundRates: number[];
}

interface ShapeResult {
  readonly shape: BenchShape;
  readonly prefillSamples: number;
  readonly floor: Timing;
  readonly server: Timing & { accepted: number; duplicates: number };
  readonly dayFile: string;
  readonly floorFile: FloorFile;
}

async function main(): Promise<void> {
  installCleanupHooks(BENCHMARK, HARD_LIMIT_MS);
  const root = mkdtempSync(join(tmpdir(), "vigil-bench-ingest-"));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const floorDir = join(root, "floor");
  mkdirSync(floorDir);
  const cpuProfDir = process.env[CPU_PROF_ENV] || undefined;
  const today = Math.floor(Date.now() / DAY_MS);
  const load = loadavg().map((l) => l.toFixed(2));
  log(`node ${process.version}, ${cpus().length} CPUs, load average ${load.join(" ")}`);

  const results: ShapeResult[] = [];
  let server: ServerProcess | undefined;
  try {
    server = await startServer({ dataDir, cpuProfDir, log });
    let firstSeriesId = 1;
    for (const shape of SHAPES) {
      const dayStart = (today - shape.daysAgo) * DAY_MS;
      const dayName = new Date(dayStart).toISOString().slice(0, 10);
      const result = await runShape(server, shape, {
        startMs: dayStart + 3_600_000,
        dayFile: join(dataDir, "samples", `${dayName}.db`),
        floorPath: join(floorDir, `${dayName}.db`),
        firstSeriesId,
      });
      results.push(result);
      emitThroughput(result);
      firstSeriesId += shape.seriesPerBatch;
    }

    // SIGTERM: the server closes its day files, and closing the last connection checkpoints the WAL.
    const code = await server.stop();
    server = undefined;
    check(code === 0, `vigil-server exited with ${code} after SIGTERM`);
    for (const result of results) emitBytes(result);
    if (cpuProfDir) log(`server CPU profile written under ${cpuProfDir}`);
  } finally {
    if (server) await server.stop();
    runCleanups();
  }
}

/** Prefills both sides, then runs the timed rounds, alternating which side goes first. */
async function runShape(
  server: ServerProcess,
  shape: BenchShape,
  where: { startMs: number; dayFile: string; floorPath: string; firstSeriesId: number },
): Promise<ShapeResult> {
  const workload = buildWorkload(shape, where.startMs, shape.seriesPerBatch);
  const prefillSamples = sampleCount(workload.prefill);
  const prefillFrames = toFrames(workload.prefill, 1);
  const timedFrames = toFrames(workload.timed, 1 + prefillFrames.length);
  const apiKey = await register(server.grpcAddress, await server.createEnrollToken(), shape.agentId);
  const session = await IngestSession.open(server.grpcAddress, apiKey, shape.agentId);
  const floor = SqliteFloor.create(where.floorPath, where.firstSeriesId);
  try {
    log(`${shape.name}: prefill, ${prefillSamples} samples each side`);
    const floorPrefill = floor.write(workload.prefill);
    check(
      floorPrefill.inserted === prefillSamples,
      `${shape.name} floor prefill inserted ${floorPrefill.inserted}`,
    );
    checkAcks(shape.name, await session.send(prefillFrames, WINDOW));

    const floorTiming: Timing = { samples: 0, seconds: 0, written: 0, roundRates: [] };
    const serverTiming = {
      samples: 0,
      seconds: 0,
      written: 0 as number | undefined,
      roundRates: [] as number[],
      accepted: 0,
      duplicates: 0,
    };
    const runFloor = (batches: readonly BatchSeries[]) => {
      const before = bytesWritten("self");
      const w = floor.write(batches);
      const written = delta(before, bytesWritten("self"));
      check(w.inserted === w.samples, `${shape.name} floor inserted ${w.inserted} of ${w.samples}`);
      addRound(floorTiming, w.samples, w.seconds, written);
    };
    const runServer = async (frames: readonly Frame[]) => {
      const before = bytesWritten(server.pid);
      const sent = await session.send(frames, WINDOW);
      const written = delta(before, bytesWritten(server.pid));
      checkAcks(shape.name, sent);
      addRound(serverTiming, sent.samples, sent.seconds, written);
      serverTiming.accepted += sent.accepted;
      serverTiming.duplicates += sent.duplicates;
    };
    log(
      `${shape.name}: ${sampleCount(workload.timed)} samples in ${shape.timedBatches} batches each side, ` +
        `${ROUNDS} rounds, window ${WINDOW}`,
    );
    for (let r = 0; r < ROUNDS; r++) {
      const from = Math.floor((r * shape.timedBatches) / ROUNDS);
      const to = Math.floor(((r + 1) * shape.timedBatches) / ROUNDS);
      if (r % 2 === 0) {
        runFloor(workload.timed.slice(from, to));
        await runServer(timedFrames.slice(from, to));
      } else {
        await runServer(timedFrames.slice(from, to));
        runFloor(workload.timed.slice(from, to));
      }
    }
    await session.close();
    return {
      shape,
      prefillSamples,
      floor: floorTiming,
      server: serverTiming,
      dayFile: where.dayFile,
      floorFile: floor.close(),
    };
  } catch (err) {
    session.abort();
    floor.abort();
    throw err;
  }
}

function addRound(timing: Timing, samples: number, seconds: number, written: number | undefined): void {
  timing.samples += samples;
  timing.seconds += seconds;
  timing.written =
    timing.written === undefined || written === undefined ? undefined : timing.written + written;
  timing.roundRates.push(samples / seconds);
}

function delta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

function emitThroughput(result: ShapeResult): void {
  const { shape, floor, server } = result;
  const common = {
    shape: shape.name,
    series_per_batch: shape.seriesPerBatch,
    ticks_per_batch: shape.ticksPerBatch,
    batches: shape.timedBatches,
    rounds: ROUNDS,
    prefill_samples: result.prefillSamples,
  };
  const rate = (t: Timing) => t.samples / t.seconds;
  const spread = (t: Timing) => ({
    min_round: Math.round(Math.min(...t.roundRates)),
    max_round: Math.round(Math.max(...t.roundRates)),
  });
  emitFigure({
    name: "ingest.sqlite_floor_samples_per_s",
    value: Math.round(rate(floor)),
    unit: "samples/s",
    ...common,
    samples: floor.samples,
    seconds: significant(floor.seconds),
    ...spread(floor),
  });
  emitFigure({
    name: "ingest.server_samples_per_s",
    value: Math.round(rate(server)),
    unit: "samples/s",
    ...common,
    samples: server.samples,
    seconds: significant(server.seconds),
    ...spread(server),
    window: WINDOW,
    accepted: server.accepted,
    duplicates: server.duplicates,
  });
  emitFigure({
    name: "ingest.server_vs_floor_ratio",
    value: significant(rate(server) / rate(floor), 3),
    unit: "ratio",
    shape: shape.name,
    server_samples_per_s: Math.round(rate(server)),
    floor_samples_per_s: Math.round(rate(floor)),
  });
  for (const [side, timing] of [
    ["server", server],
    ["floor", floor],
  ] as const) {
    if (timing.written === undefined) continue;
    emitFigure({
      name: `ingest.${side}_written_bytes_per_sample`,
      value: Math.round(timing.written / timing.samples),
      unit: "bytes/sample",
      shape: shape.name,
      samples: timing.samples,
      bytes: timing.written,
      source: side === "server" ? "/proc/<server pid>/io wchar" : "/proc/self/io wchar",
    });
  }
  log(`${shape.name}: server ${Math.round(rate(server))}/s, floor ${Math.round(rate(floor))}/s`);
}

function emitBytes(result: ShapeResult): void {
  const { shape, floorFile } = result;
  const expectedRows = result.prefillSamples + result.server.samples;
  const serverRows = countRows(result.dayFile);
  check(
    serverRows === expectedRows,
    `${shape.name}: ${result.dayFile} holds ${serverRows} rows, expected ${expectedRows}`,
  );
  check(
    floorFile.rows === expectedRows,
    `${shape.name}: the floor file holds ${floorFile.rows} rows, expected ${expectedRows}`,
  );
  const serverBytes = fileBytes(result.dayFile);
  emitFigure({
    name: "ingest.server_bytes_per_sample",
    value: significant(serverBytes / serverRows),
    unit: "bytes/sample",
    shape: shape.name,
    samples: serverRows,
    bytes: serverBytes,
  });
  emitFigure({
    name: "ingest.floor_bytes_per_sample",
    value: significant(floorFile.bytes / floorFile.rows),
    unit: "bytes/sample",
    shape: shape.name,
    samples: floorFile.rows,
    bytes: floorFile.bytes,
  });
}

function countRows(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], number>("SELECT count(*) FROM samples").pluck().get() ?? 0;
  } finally {
    db.close();
  }
}

/** Every sample sent must come back acked as newly written: the figures count only stored samples. */
function checkAcks(shape: string, result: SendResult): void {
  check(
    result.accepted === result.samples && result.duplicates === 0,
    `${shape}: sent ${result.samples} samples, acks say ${result.accepted} accepted and ${result.duplicates} duplicates`,
  );
  if (result.throttles > 0) log(`${shape}: the server sent ${result.throttles} throttle frames (ignored)`);
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`check failed: ${message}`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
}
