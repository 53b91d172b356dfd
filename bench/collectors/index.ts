/**
 * bench/collectors: CPU and wall time of one full collection (every default-enabled built-in collector
 * once, against this machine's real /proc and /sys), next to two floors (a plain `readFileSync` of the
 * files those collectors read, every /proc/[pid]/stat included; and the same files read with one
 * `pread` each on descriptors kept open, which is what the kernel alone costs), at the machine's own
 * process count and again with sleeping processes added up to 300. Figures go to stdout, one JSON line
 * each; progress to stderr. docs/benchmarks.md explains every figure.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { cpus } from "node:os";
import { applyAgentV8Settings } from "@vigil/agent/v8-settings";
import { builtinCollectors, type Collector, defaultOptions, ProcFs } from "@vigil/collectors";
import { createLogger } from "@vigil/common";
import { installCleanupHooks, onCleanup } from "../harness/cleanup.js";
import { emitFigure, logProgress, significant } from "../harness/figure.js";
import { median } from "../harness/median.js";

const BENCHMARK = "collectors";
const HARD_LIMIT_MS = 120_000;
const WARMUP_CYCLES = 5;
const CYCLES = 41;
/** The target: a full collection under 5 ms of CPU with this many processes. */
const TARGET_PROCESSES = 300;
/** Never spawn more than this many sleepers, whatever the count says. */
const MAX_SPAWNED = 400;
/** Files the floor reads once per cycle besides every /proc/[pid]/stat. */
const FLOOR_FILES = ["stat", "meminfo", "diskstats", "net/dev", "loadavg", "uptime", "sys/fs/file-nr"];

const log = (message: string) => logProgress(BENCHMARK, message);
/** The collectors run inside the agent, which runs with these V8 flags: measure them the same way. */
const V8_FLAGS = applyAgentV8Settings();

function processCount(): number {
  return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).length;
}

/** CPU (user + system) and wall milliseconds of `fn`. */
async function timed(fn: () => Promise<unknown> | unknown): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  await fn();
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

/** The floor: the same files read the plainest way, no parsing. Returns bytes read so nothing is optimised away. */
function readFloor(): number {
  let bytes = 0;
  for (const file of FLOOR_FILES) {
    try {
      bytes += readFileSync(`/proc/${file}`).length;
    } catch {
      // A file this kernel lacks costs the collectors a failed open too; the floor skips it the same way.
    }
  }
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      bytes += readFileSync(`/proc/${name}/stat`).length;
    } catch {
      // The process exited between the listing and the read, as the collector also sees.
    }
  }
  return bytes;
}

/** Descriptors the kept floor holds open between cycles, by path. */
const keptFloorFds = new Map<string, number>();
const keptFloorBuffer = Buffer.allocUnsafe(64 * 1024);

/** pread from offset 0 on a kept descriptor (opened on first use); `untilEof` reads on until 0 bytes. */
function preadKept(path: string, untilEof: boolean, seen: Set<string>): number {
  let fd = keptFloorFds.get(path);
  if (fd === undefined) {
    fd = openSync(path, "r");
    keptFloorFds.set(path, fd);
  }
  seen.add(path);
  let length = 0;
  for (;;) {
    const n = readSync(fd, keptFloorBuffer, length, keptFloorBuffer.length - length, length);
    length += n;
    if (n === 0 || !untilEof || length === keptFloorBuffer.length) return length;
  }
}

/**
 * The kept floor: the same files as {@link readFloor}, each read with `pread` on a descriptor kept
 * open across cycles (one read per `<pid>/stat`, a single record; multi-record files until EOF), no
 * parsing; descriptors of exited processes are closed. What is left is the kernel generating the text.
 */
function readFloorKept(): number {
  let bytes = 0;
  const seen = new Set<string>();
  for (const file of FLOOR_FILES) {
    try {
      bytes += preadKept(`/proc/${file}`, true, seen);
    } catch {
      // As in readFloor: a file this kernel lacks is skipped.
    }
  }
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const path = `/proc/${name}/stat`;
    try {
      bytes += preadKept(path, false, seen);
    } catch {
      // Exited (or its kept descriptor went stale when it did): drop it; a reused pid reopens next cycle.
      const fd = keptFloorFds.get(path);
      if (fd !== undefined) closeSync(fd);
      keptFloorFds.delete(path);
    }
  }
  for (const [path, fd] of keptFloorFds) {
    if (seen.has(path)) continue;
    closeSync(fd);
    keptFloorFds.delete(path);
  }
  return bytes;
}

interface Measured {
  readonly collectCpu: number[];
  readonly collectWall: number[];
  readonly floorCpu: number[];
  readonly floorWall: number[];
  readonly keptFloorCpu: number[];
  readonly perCollectorCpu: Map<string, number[]>;
  readonly samples: number;
}

async function measure(collectors: readonly Collector[], proc: ProcFs, sys: ProcFs): Promise<Measured> {
  const logger = createLogger({ name: "bench-collectors", level: "error", destination: process.stderr });
  const result: Measured = {
    collectCpu: [],
    collectWall: [],
    floorCpu: [],
    floorWall: [],
    keptFloorCpu: [],
    perCollectorCpu: new Map(collectors.map((c) => [c.name, []])),
    samples: 0,
  };
  let now = Date.now();
  let samples = 0;
  for (let cycle = 0; cycle < WARMUP_CYCLES + CYCLES; cycle++) {
    now += 1_000;
    const tickNow = now;
    const perCollector: [string, number][] = [];
    // Floor and collectors alternate their order each cycle, so neither always runs with warmer caches.
    const runCollectors = () =>
      timed(async () => {
        samples = 0;
        for (const collector of collectors) {
          const one = await timed(async () => {
            samples += (await collector.collect({ now: tickNow, proc, sys, logger })).length;
          });
          perCollector.push([collector.name, one.cpuMs]);
        }
      });
    const runFloor = () => timed(readFloor);
    const runKeptFloor = () => timed(readFloorKept);
    let collected: { cpuMs: number; wallMs: number };
    let floor: { cpuMs: number; wallMs: number };
    let keptFloor: { cpuMs: number; wallMs: number };
    if (cycle % 2 === 0) {
      collected = await runCollectors();
      floor = await runFloor();
      keptFloor = await runKeptFloor();
    } else {
      keptFloor = await runKeptFloor();
      floor = await runFloor();
      collected = await runCollectors();
    }
    if (cycle < WARMUP_CYCLES) continue;
    result.collectCpu.push(collected.cpuMs);
    result.collectWall.push(collected.wallMs);
    result.floorCpu.push(floor.cpuMs);
    result.floorWall.push(floor.wallMs);
    result.keptFloorCpu.push(keptFloor.cpuMs);
    for (const [name, cpuMs] of perCollector) result.perCollectorCpu.get(name)?.push(cpuMs);
  }
  return { ...result, samples };
}

function report(label: string, m: Measured, processes: number): void {
  const common = { processes, cycles: CYCLES, cpus: cpus().length, v8_flags: V8_FLAGS.join(" ") };
  const collectCpu = median(m.collectCpu);
  const floorCpu = median(m.floorCpu);
  emitFigure({
    name: "collectors.collect_cpu_ms",
    value: significant(collectCpu, 3),
    unit: "ms",
    at: label,
    samples: m.samples,
    min: significant(Math.min(...m.collectCpu), 3),
    max: significant(Math.max(...m.collectCpu), 3),
    ...common,
  });
  emitFigure({
    name: "collectors.collect_wall_ms",
    value: significant(median(m.collectWall), 3),
    unit: "ms",
    at: label,
    ...common,
  });
  emitFigure({
    name: "collectors.floor_cpu_ms",
    value: significant(floorCpu, 3),
    unit: "ms",
    at: label,
    ...common,
  });
  emitFigure({
    name: "collectors.floor_wall_ms",
    value: significant(median(m.floorWall), 3),
    unit: "ms",
    at: label,
    ...common,
  });
  const keptFloorCpu = median(m.keptFloorCpu);
  emitFigure({
    name: "collectors.kept_floor_cpu_ms",
    value: significant(keptFloorCpu, 3),
    unit: "ms",
    at: label,
    ...common,
  });
  emitFigure({
    name: "collectors.collect_vs_kept_floor_cpu_ratio",
    value: significant(keptFloorCpu > 0 ? collectCpu / keptFloorCpu : 0, 3),
    unit: "ratio",
    at: label,
    ...common,
  });
  emitFigure({
    name: "collectors.collect_vs_floor_cpu_ratio",
    value: significant(floorCpu > 0 ? collectCpu / floorCpu : 0, 3),
    unit: "ratio",
    at: label,
    ...common,
  });
  for (const [collector, values] of m.perCollectorCpu) {
    emitFigure({
      name: "collectors.collector_cpu_ms",
      value: significant(median(values), 3),
      unit: "ms",
      at: label,
      collector,
      ...common,
    });
  }
}

async function main(): Promise<void> {
  installCleanupHooks(BENCHMARK, HARD_LIMIT_MS);
  log(`V8 flags as in the agent: ${V8_FLAGS.join(" ") || "(none: given on the command line)"}`);
  const proc = new ProcFs("/proc");
  const sys = new ProcFs("/sys");
  onCleanup(() => {
    proc.close();
    sys.close();
    for (const fd of keptFloorFds.values()) closeSync(fd);
    keptFloorFds.clear();
  });
  const registrations = builtinCollectors().filter((r) => r.defaultEnabled);
  const make = () => registrations.map((r) => r.create(defaultOptions(r)));
  log(`collectors: ${registrations.map((r) => r.name).join(", ")}`);

  const before = processCount();
  log(`${before} processes; measuring ${CYCLES} cycles after ${WARMUP_CYCLES} warm-up`);
  report("machine", await measure(make(), proc, sys), before);

  const toSpawn = Math.min(MAX_SPAWNED, Math.max(0, TARGET_PROCESSES - processCount()));
  const children: ChildProcess[] = [];
  onCleanup(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  });
  for (let i = 0; i < toSpawn; i++) children.push(spawn("sleep", ["60"], { stdio: "ignore" }));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const at = processCount();
  log(`spawned ${toSpawn} sleeping processes: ${at} processes`);
  report(`${TARGET_PROCESSES}_processes`, await measure(make(), proc, sys), at);
  for (const child of children) child.kill("SIGKILL");
}

await main();
