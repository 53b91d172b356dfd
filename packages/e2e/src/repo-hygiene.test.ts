import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./harness.js";

const ROOT = join(import.meta.dirname, "../../..");
const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

describe("Dockerfiles", () => {
  it.each(["Dockerfile.server", "Dockerfile.agent"])(
    "%s is multi-stage, node:20-slim, non-root, and names entry points the build produces",
    (file) => {
      const text = readFileSync(join(ROOT, file), "utf8");
      const froms = text.match(/^FROM\s+(\S+)/gm) ?? [];
      expect(froms.length).toBeGreaterThanOrEqual(2);
      for (const from of froms) expect(from).toMatch(/^FROM\s+node:20-slim\b/);
      expect(text).toMatch(/^USER\s+node\s*$/m);
      const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text);
      expect(entry).not.toBeNull();
      const scripts = (JSON.parse(entry?.[1] ?? "[]") as string[]).filter((a) => a.endsWith(".js"));
      expect(scripts.length).toBe(1);
      for (const script of scripts) {
        expect(existsSync(join(ROOT, script)), `${script} exists`).toBe(true);
        // The bin imports the compiled CLI, which `npm run build` (tsc -b) must have produced.
        const target = /from "(\.\.\/dist\/[^"]+)"/.exec(readFileSync(join(ROOT, script), "utf8"))?.[1];
        expect(target).toBeDefined();
        expect(existsSync(join(ROOT, script, "..", target as string)), `${target} built`).toBe(true);
      }
    },
  );
});

describe("generated protobuf code", () => {
  it("is what `buf generate` produces from proto/ today", () => {
    const out = tempDir("vigil-gen-");
    try {
      const r = spawnSync(bin("buf"), ["generate", "--output", out.path], { cwd: ROOT, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const committedDir = join(ROOT, "packages/protocol/src/gen");
      const freshDir = join(out.path, "packages/protocol/src/gen");
      const files = (dir: string): string[] =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((d) => d.isFile())
          .map((d) => relative(dir, join(d.parentPath, d.name)))
          .sort();
      expect(files(committedDir)).toEqual(files(freshDir));
      for (const f of files(freshDir)) {
        expect(readFileSync(join(committedDir, f), "utf8"), `${f} is stale: run npm run generate`).toBe(
          readFileSync(join(freshDir, f), "utf8"),
        );
      }
    } finally {
      out.cleanup();
    }
  });

  it("passes buf lint", () => {
    const r = spawnSync(bin("buf"), ["lint"], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("formatting and lint", () => {
  it("the benchmarks type-check (they run through tsx, outside tsc -b)", () => {
    const r = spawnSync(bin("tsc"), ["-p", "bench/tsconfig.json"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("biome check passes on the whole repository", () => {
    const r = spawnSync(bin("biome"), ["check", "--no-errors-on-unmatched", "."], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
