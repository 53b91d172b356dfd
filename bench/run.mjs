#!/usr/bin/env node
// @ts-check
/**
 * Runs the benchmarks: `node bench/run.mjs [NAME...]` (via `npm run bench [-- NAME...]`).
 *
 * A benchmark is a folder `bench/<name>/` with an `index.ts`; each runs in its own child process,
 * `node --import tsx bench/<name>/index.ts`, one after the other. Their stdout (one JSON object per
 * figure per line) passes straight through; their logs go to stderr. Exit status: 0 when every
 * benchmark succeeded, 1 when one failed, 2 for an unknown name.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);

/** Folder names under bench/ holding an index.ts, sorted. */
function benchmarkNames() {
  return readdirSync(BENCH_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(BENCH_DIR, entry.name, "index.ts")))
    .map((entry) => entry.name)
    .sort();
}

/**
 * Runs one benchmark to completion; resolves to its exit status. A SIGINT or SIGTERM sent to this
 * runner is passed on, so the benchmark can stop its own children and remove its temp files.
 * @param {string} name
 * @returns {Promise<number>}
 */
function runBenchmark(name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join("bench", name, "index.ts")], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    });
    /** @param {NodeJS.Signals} signal */
    const forward = (signal) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    const done = (/** @type {number} */ code) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code);
    };
    child.once("error", (err) => {
      process.stderr.write(`bench: could not start ${name}: ${err.message}\n`);
      done(1);
    });
    child.once("exit", (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

const names = benchmarkNames();
const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(
    `Usage: node bench/run.mjs [NAME...]   (npm run bench [-- NAME...])\nBenchmarks: ${names.join(", ")}\n`,
  );
  process.exit(0);
}
const unknown = args.filter((arg) => !names.includes(arg));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown benchmark ${unknown.map((n) => `"${n}"`).join(", ")}; available: ${names.join(", ")}\n`,
  );
  process.exit(2);
}

/** Set by SIGINT/SIGTERM: the running benchmark is told to stop and no further one starts. */
let interrupted = false;
const stopAfterCurrent = () => {
  interrupted = true;
};
process.on("SIGINT", stopAfterCurrent);
process.on("SIGTERM", stopAfterCurrent);

const failed = [];
for (const name of args.length > 0 ? args : names) {
  if (interrupted) break;
  process.stderr.write(`bench: running ${name}\n`);
  const code = await runBenchmark(name);
  if (code !== 0) {
    process.stderr.write(`bench: ${name} failed (exit ${code})\n`);
    failed.push(name);
  }
}
process.exit(failed.length > 0 || interrupted ? 1 : 0);
