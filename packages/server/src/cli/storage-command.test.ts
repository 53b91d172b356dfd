import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { Catalog, ChunkedStorageEngine, DAY_MS, dayFilePath, RollupStore } from "@vigil/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "./main.js";

const DAY0 = Date.UTC(2026, 0, 10);

let dir: string;
let configFile: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-storage-cli-"));
  configFile = join(dir, "server.toml");
  writeFileSync(configFile, `[server]\ndata_dir = "${join(dir, "data")}"\n`);
  const dataDir = join(dir, "data");
  const catalog = Catalog.open(dataDir);
  const engine = ChunkedStorageEngine.open({ dataDir, catalog });
  for (const day of [0, 1])
    await engine.appendBatch("a", [
      {
        metric: "m",
        labels: {},
        timestamps: Array.from({ length: 5_000 }, (_, i) => DAY0 + day * DAY_MS + i * 1_000),
        values: Array.from({ length: 5_000 }, (_, i) => Math.sin(i)),
      },
    ]);
  await engine.close();
  catalog.close();
  RollupStore.open(dataDir).close();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on("data", (c: Buffer) => out.push(c.toString()));
  stderr.on("data", (c: Buffer) => err.push(c.toString()));
  const code = await main(argv, { stdout, stderr, env: {}, cwd: dir });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

describe("vigil-server storage check", () => {
  it("prints one line per file and exits 0 when every file passes", async () => {
    for (const extra of [[], ["--quick"]]) {
      const r = await run(["storage", "check", "--config", configFile, ...extra]);
      const data = join(dir, "data");
      expect(r).toEqual({
        code: 0,
        stdout:
          `ok    ${join(data, "vigil.db")}\nok    ${join(data, "rollups.db")}\n` +
          `ok    ${dayFilePath(data, DAY0)}\nok    ${dayFilePath(data, DAY0 + DAY_MS)}\n` +
          `4 files in ${data} passed ${extra.length ? "quick_check" : "integrity_check"}\n`,
        stderr: "",
      });
    }
  });

  it("exits 1 and names the damaged file", async () => {
    const bad = dayFilePath(join(dir, "data"), DAY0 + DAY_MS);
    const fd = openSync(bad, "r+");
    writeSync(fd, Buffer.alloc(4096 * 2, 0xa5), 0, 4096 * 2, 4096 * 2);
    closeSync(fd);
    const r = await run(["storage", "check", "--config", configFile]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines.slice(0, 3).every((l) => l.startsWith("ok    "))).toBe(true);
    expect(lines[3]).toMatch(new RegExp(`^FAIL  ${bad}: .+`));
    expect(lines[4]).toBe(`1 of 4 files in ${join(dir, "data")} failed integrity_check`);
  });

  it("refuses bad usage with exit 2", async () => {
    const r = await run(["storage", "fix", "--config", configFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown storage command "fix" (expected "check")');
    expect((await run(["storage", "check", "--bogus"])).code).toBe(2);
  });
});
