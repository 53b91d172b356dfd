import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commandContext } from "./command-test-support.js";
import { createDirectoryCollector, DIRECTORY_OPTIONS, WalkTimeoutError, walkDirectory } from "./directory.js";
import { captureLogger } from "./test-support.js";

const T0 = 1_764_040_000_000;
const FAR = () => performance.now() + 60_000;

/** `du -s -B1` of a path, as the reference. */
function du(target: string): number {
  return Number(execFileSync("du", ["-s", "-B1", target], { encoding: "utf8" }).split("\t")[0]);
}

const blocks = (p: string) => fs.lstatSync(p).blocks * 512;

describe("walkDirectory", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-dir-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("adds up allocated blocks like du, links once, symlinks not followed", async () => {
    fs.mkdirSync(path.join(dir, "a/b"), { recursive: true });
    fs.writeFileSync(path.join(dir, "a/one"), Buffer.alloc(10_000, 1));
    fs.writeFileSync(path.join(dir, "a/b/two"), Buffer.alloc(100_000, 2));
    fs.linkSync(path.join(dir, "a/b/two"), path.join(dir, "a/hardlink"));
    fs.symlinkSync("/usr", path.join(dir, "a/to-usr"));
    fs.writeFileSync(path.join(dir, "sparse"), "");
    fs.truncateSync(path.join(dir, "sparse"), 50_000_000); // 50 MB apparent, ~0 allocated
    const usage = await walkDirectory(dir, { deadline: FAR() });
    const expected = [dir, "a", "a/b", "a/one", "a/b/two", "a/to-usr", "sparse"]
      .map((p) => blocks(path.resolve(dir, p)))
      .reduce((a, b) => a + b, 0);
    expect(usage).toEqual({ bytes: expected, files: 4, unreadable: 0 });
    expect(usage.bytes).toBe(du(dir));
  });

  it("yields to the event loop while walking", async () => {
    for (let i = 0; i < 600; i++) fs.writeFileSync(path.join(dir, `f${i}`), "");
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    const usage = await walkDirectory(dir, { deadline: FAR(), entriesPerTurn: 50 });
    clearInterval(timer);
    expect(usage.files).toBe(600);
    expect(turns).toBeGreaterThan(0);
  });

  it("gives up at the deadline", async () => {
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `f${i}`), "");
    let now = 0;
    await expect(
      walkDirectory(dir, { deadline: 5, entriesPerTurn: 2, clock: () => now++ }),
    ).rejects.toBeInstanceOf(WalkTimeoutError);
  });

  it("counts a vanished subdirectory as unreadable and goes on", async () => {
    // Root may open anything, so EACCES cannot be made here: a directory removed mid-walk takes the same path.
    fs.mkdirSync(path.join(dir, "gone"));
    fs.writeFileSync(path.join(dir, "kept"), "x");
    const original = fs.promises.opendir;
    fs.promises.opendir = (async (p: fs.PathLike, o?: fs.OpenDirOptions) => {
      if (String(p).endsWith("gone"))
        throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      return original(p, o);
    }) as typeof fs.promises.opendir;
    try {
      const usage = await walkDirectory(dir, { deadline: FAR() });
      expect(usage.unreadable).toBe(1);
      expect(usage.files).toBe(1);
    } finally {
      fs.promises.opendir = original;
    }
  });

  it("matches du on any generated tree", async () => {
    const tree = fc.array(
      fc.record({ depth: fc.nat({ max: 3 }), size: fc.nat({ max: 20_000 }), link: fc.boolean() }),
      { maxLength: 15 },
    );
    await fc.assert(
      fc.asyncProperty(tree, async (entries) => {
        const root = fs.mkdtempSync(path.join(dir, "t-"));
        let previous: string | undefined;
        entries.forEach((e, i) => {
          const sub = path.join(root, ...Array.from({ length: e.depth }, (_, d) => `d${d}`));
          fs.mkdirSync(sub, { recursive: true });
          const file = path.join(sub, `f${i}`);
          if (e.link && previous) fs.linkSync(previous, file);
          else fs.writeFileSync(file, Buffer.alloc(e.size));
          previous = file;
        });
        const usage = await walkDirectory(root, { deadline: FAR(), entriesPerTurn: 3 });
        expect(usage.bytes).toBe(du(root));
        expect(usage.unreadable).toBe(0);
      }),
      { numRuns: 15 },
    );
  });
});

describe("directory collector", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-dir-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("takes absolute paths only, defaults to none and 30 s", () => {
    expect(DIRECTORY_OPTIONS.parse({})).toEqual({ paths: [], timeout: 30_000 });
    expect(() => DIRECTORY_OPTIONS.parse({ paths: ["relative/dir"] })).toThrow(/absolute/);
  });

  it("reports size, files and unreadable per path; a missing path warns once and emits nothing", async () => {
    fs.writeFileSync(path.join(dir, "f"), Buffer.alloc(5000));
    const missing = path.join(dir, "missing");
    const log = captureLogger();
    const collector = createDirectoryCollector({ paths: [dir, missing] });
    for (const now of [T0, T0 + 300_000]) {
      const samples = await collector.collect(commandContext(now, log.logger));
      expect(samples.map((s) => [s.metric, s.labels.path, s.value, s.ts])).toEqual([
        ["directory_size_bytes", dir, du(dir), now],
        ["directory_files", dir, 1, now],
        ["directory_unreadable_entries", dir, 0, now],
      ]);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(`cannot read ${missing} (ENOENT)`);
  });

  it("warns once, naming the option, when a walk times out", async () => {
    for (let i = 0; i < 600; i++) fs.writeFileSync(path.join(dir, `f${i}`), "");
    const log = captureLogger();
    const collector = createDirectoryCollector({ paths: [dir], timeout: 0 });
    expect(await collector.collect(commandContext(T0, log.logger))).toEqual([]);
    expect(await collector.collect(commandContext(T0 + 1, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("collectors.directory.timeout");
  });
});
