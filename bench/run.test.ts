import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const RUNNER = fileURLToPath(new URL("./run.mjs", import.meta.url));

// Only the runner's cheap paths: the benchmarks themselves run under `npm run bench`, never in tests.
describe("bench/run.mjs", () => {
  it("exits 2 on an unknown benchmark name and lists the names there are", () => {
    const result = spawnSync(process.execPath, [RUNNER, "nonexistent"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('unknown benchmark "nonexistent"');
    expect(result.stderr).toMatch(/available: .*\bingest\b/);
  });

  it("prints usage with the names on --help and exits 0", () => {
    const result = spawnSync(process.execPath, [RUNNER, "--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: node bench\/run\.mjs/);
    expect(result.stdout).toMatch(/Benchmarks: .*\bingest\b/);
  });
});
