import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "../scripts/sea.mjs");
const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "../package.json"), "utf8")) as {
  version: string;
};
const dir = mkdtempSync(join(tmpdir(), "vigil-sea-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether this node can carry a SEA blob (Linux, the SEA fuse unused): the script's own test. */
const seaPossible =
  process.platform === "linux" &&
  readFileSync(process.execPath).includes("NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:0");

describe("scripts/sea.mjs (the single executable, part of npm run build)", () => {
  it(seaPossible
    ? "builds an executable that runs the agent without node or node_modules"
    : "says why no executable can be built here, and still exits 0", () => {
    const out = join(dir, "vigil-agent");
    const r = spawnSync(process.execPath, [SCRIPT, out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    if (!seaPossible) {
      expect(r.stderr).toMatch(/^vigil-agent SEA: skipped: /);
      expect(existsSync(out)).toBe(false);
      return;
    }
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`built ${out} (single executable, node ${process.versions.node}, ${version})\n`);
    // Only the executable is left: the CommonJS bundle, blob and config were temporary.
    expect(readdirSync(dir)).toEqual(["vigil-agent"]);
    const env = { PATH: "/usr/bin:/bin", HOME: dir };
    const versionRun = spawnSync(out, ["--version"], { encoding: "utf8", cwd: dir, env });
    expect(versionRun.stdout).toBe(`${version}\n`);
    const collect = spawnSync(out, ["collect", "--once", "--json", "--interval", "200ms"], {
      encoding: "utf8",
      cwd: dir,
      env,
    });
    expect(collect.status, collect.stderr).toBe(0);
    const metrics = collect.stdout
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { metric: string }).metric);
    expect(metrics).toContain("cpu_usage_percent");
    expect(metrics).toContain("memory_total_bytes");
  }, 60_000);
});
