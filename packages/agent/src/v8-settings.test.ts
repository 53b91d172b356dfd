import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AGENT_V8_FLAGS, agentV8FlagsToApply } from "./v8-settings.js";

/** The built module bin/vigil-agent.js imports first (`npm test` runs `tsc -b` before vitest). */
const APPLY_MODULE = fileURLToPath(new URL("../dist/apply-v8-settings.js", import.meta.url));
const SETTINGS_MODULE = fileURLToPath(new URL("../dist/v8-settings.js", import.meta.url));

/**
 * A node child that optionally loads the agent's settings, then does what makes V8 grow the young
 * generation (many objects surviving scavenges) and optimise a function (a hot loop). It reports
 * the young generation's size and the function's optimisation status (V8's bit 16: optimised).
 */
function probe(
  applySettings: boolean,
  nodeFlags: readonly string[] = [],
): { newSpaceBytes: number; optimised: boolean } {
  const script = [
    applySettings ? `await import(${JSON.stringify(APPLY_MODULE)});` : "",
    'const { getHeapSpaceStatistics } = await import("node:v8");',
    "function hot(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; }",
    "const arr = Array.from({ length: 1000 }, (_, i) => i);",
    "let keep = 0, junk = [];",
    "for (let i = 0; i < 300000; i++) {",
    "  if (i % 20 === 0) keep += hot(arr);",
    "  junk.push({ i, s: 'x' + i });",
    "  if (junk.length > 100000) junk = [];",
    "}",
    'const ns = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");',
    "console.log(JSON.stringify({ newSpaceBytes: ns.space_size, status: %GetOptimizationStatus(hot), keep }));",
  ].join("\n");
  const r = spawnSync(
    process.execPath,
    ["--allow-natives-syntax", ...nodeFlags, "--input-type=module", "-e", script],
    { encoding: "utf8", timeout: 30_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { newSpaceBytes: number; status: number };
  return { newSpaceBytes: out.newSpaceBytes, optimised: (out.status & 16) !== 0 };
}

describe("agent V8 settings", () => {
  it("keeps the young generation at 1 MiB a semi-space and never runs the optimising compiler", () => {
    const plain = probe(false);
    const tuned = probe(true);
    // Without them V8 grows the young generation (to 32 MiB here) and optimises the hot loop.
    expect(plain.newSpaceBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(plain.optimised).toBe(true);
    expect(tuned.newSpaceBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(tuned.optimised).toBe(false);
  });

  it("leaves a flag the operator set on node's command line alone", () => {
    const overridden = probe(true, ["--max-opt=4"]);
    expect(overridden.optimised).toBe(true);
    expect(overridden.newSpaceBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it("skips the flags given in execArgv or NODE_OPTIONS, in either spelling", () => {
    expect(agentV8FlagsToApply([], undefined)).toEqual([...AGENT_V8_FLAGS]);
    expect(agentV8FlagsToApply(["--max-opt=3"], undefined)).toEqual(["--semi-space-growth-factor=1"]);
    expect(agentV8FlagsToApply([], "--inspect --semi_space_growth_factor=2")).toEqual(["--max-opt=1"]);
    expect(agentV8FlagsToApply(["--max_opt", "4"], "--semi-space-growth-factor=4")).toEqual([]);
    expect(agentV8FlagsToApply(["-e", "x", "--"], "")).toEqual([...AGENT_V8_FLAGS]);
  });

  it("runs one full GC after start-up, without leaving gc() exposed", () => {
    // A child counts major GCs (PerformanceObserver "gc" entries of kind MAJOR) in an otherwise idle
    // process: none on their own within 400 ms, one after scheduleStartupGc, none once cancelled.
    const run = (mode: "none" | "scheduled" | "cancelled") => {
      const script = [
        'const { PerformanceObserver, constants } = await import("node:perf_hooks");',
        `const { scheduleStartupGc } = await import(${JSON.stringify(SETTINGS_MODULE)});`,
        "let major = 0;",
        "new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++; }).observe({ entryTypes: ['gc'] });",
        `const mode = ${JSON.stringify(mode)};`,
        "if (mode !== 'none') { const cancel = scheduleStartupGc(50); if (mode === 'cancelled') cancel(); }",
        "setTimeout(() => console.log(JSON.stringify({ major, exposed: typeof globalThis.gc })), 400);",
      ].join("\n");
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { major: number; exposed: string };
    };
    expect(run("none")).toEqual({ major: 0, exposed: "undefined" });
    expect(run("scheduled")).toEqual({ major: 1, exposed: "undefined" });
    expect(run("cancelled")).toEqual({ major: 0, exposed: "undefined" });
  });

  it("its timer never keeps the process alive", () => {
    const script = `const { scheduleStartupGc } = await import(${JSON.stringify(SETTINGS_MODULE)}); scheduleStartupGc(60_000);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
  });
});
