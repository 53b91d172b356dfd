import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { commandContext } from "./command-test-support.js";
import { captureLogger } from "./test-support.js";
import { createTextfileCollector, DEFAULT_TEXTFILE_DIRECTORY, TEXTFILE_MAX_BYTES } from "./textfile.js";

const T0 = 1_764_040_000_000;

function series(samples: readonly { metric: string; labels: object; value: number }[]): string[] {
  return samples.map((s) => `${s.metric}${JSON.stringify(s.labels)} ${s.value}`);
}

describe("textfile collector", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-textfile-"));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    fs.chmodSync(dir, 0o755);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string, mtimeSeconds = 1_764_000_000) => {
    fs.writeFileSync(path.join(dir, name), text);
    fs.utimesSync(path.join(dir, name), mtimeSeconds, mtimeSeconds);
  };

  it("passes samples through in file order, with mtimes and scrape_error 0, on two ticks", async () => {
    write(
      "backup.prom",
      '# TYPE backup_ok gauge\nbackup_ok{job="nightly"} 1\nbackup_age_seconds 3600 1764039999000\n',
    );
    write("apt.prom", "apt_upgrades_pending 4\n", 1_764_000_100);
    write("ignored.txt", "not_read 1\n");
    fs.mkdirSync(path.join(dir, "sub.prom"));
    const log = captureLogger();
    const textfile = createTextfileCollector({ directory: dir });
    for (const now of [T0, T0 + 10_000]) {
      const samples = await textfile.collect(commandContext(now, log.logger));
      expect(series(samples)).toEqual([
        'textfile_mtime_seconds{"file":"apt.prom"} 1764000100',
        'textfile_mtime_seconds{"file":"backup.prom"} 1764000000',
        "apt_upgrades_pending{} 4",
        'backup_ok{"job":"nightly"} 1',
        "backup_age_seconds{} 3600",
        "textfile_scrape_error{} 0",
      ]);
      expect(samples.find((s) => s.metric === "backup_age_seconds")?.ts).toBe(1764039999000);
      expect(samples.filter((s) => s.metric !== "backup_age_seconds").every((s) => s.ts === now)).toBe(true);
    }
    expect(log.warnings()).toEqual([]);
  });

  it("keeps a file's good lines when one is bad, warning once with file:line, scrape_error 1", async () => {
    write("jobs.prom", "good 1\nbad line here\nalso_good 2\nnan_one NaN\n");
    const log = captureLogger();
    const textfile = createTextfileCollector({ directory: dir });
    for (const now of [T0, T0 + 1]) {
      const samples = await textfile.collect(commandContext(now, log.logger));
      expect(series(samples).slice(1)).toEqual(["good{} 1", "also_good{} 2", "textfile_scrape_error{} 1"]);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(`${path.join(dir, "jobs.prom")}:2`);
    expect(log.warnings()[0]?.msg).toContain("NaN/Inf");
  });

  it("uses the first file's value of a series two files give", async () => {
    write("a.prom", "dup 1\n");
    write("b.prom", "dup 2\n");
    const log = captureLogger();
    const samples = await createTextfileCollector({ directory: dir }).collect(commandContext(T0, log.logger));
    expect(series(samples).filter((s) => s.startsWith("dup"))).toEqual(["dup{} 1"]);
    expect(log.warnings()).toHaveLength(1);
  });

  it("skips a file over the size cap", async () => {
    fs.writeFileSync(path.join(dir, "big.prom"), "");
    fs.truncateSync(path.join(dir, "big.prom"), TEXTFILE_MAX_BYTES + 1);
    write("small.prom", "small 1\n");
    const log = captureLogger();
    const samples = await createTextfileCollector({ directory: dir }).collect(commandContext(T0, log.logger));
    expect(series(samples)).toEqual([
      'textfile_mtime_seconds{"file":"small.prom"} 1764000000',
      "small{} 1",
      "textfile_scrape_error{} 1",
    ]);
    expect(log.warnings()[0]?.msg).toContain("EFBIG");
  });

  it("is silent about a missing default directory, warns once about a missing configured one", async () => {
    const log = captureLogger();
    if (!fs.existsSync(DEFAULT_TEXTFILE_DIRECTORY)) {
      expect(await createTextfileCollector().collect(commandContext(T0, log.logger))).toEqual([]);
      expect(log.lines.filter((l) => l.level >= 30)).toEqual([]);
    }
    const missing = createTextfileCollector({ directory: path.join(dir, "nope") });
    expect(series(await missing.collect(commandContext(T0, log.logger)))).toEqual([
      "textfile_scrape_error{} 1",
    ]);
    await missing.collect(commandContext(T0 + 1, log.logger));
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("ENOENT");
  });

  it("warns once on an unreadable file and keeps the others", async () => {
    write("secret.prom", "secret 1\n");
    write("open.prom", "open 1\n");
    // Tests run as root in CI, where chmod 000 does not stop a read: deny the open the way the kernel would.
    const realOpen = fs.promises.open;
    vi.spyOn(fs.promises, "open").mockImplementation(async (file, ...rest) => {
      if (String(file).endsWith("secret.prom")) {
        throw Object.assign(new Error(`EACCES: permission denied, open '${String(file)}'`), {
          code: "EACCES",
        });
      }
      return realOpen(file, ...rest);
    });
    const log = captureLogger();
    const samples = await createTextfileCollector({ directory: dir }).collect(commandContext(T0, log.logger));
    expect(series(samples).slice(1)).toEqual(["open{} 1", "textfile_scrape_error{} 1"]);
    expect(log.warnings()[0]?.msg).toContain("EACCES");
  });

  it("never throws and emits only finite values, whatever the files hold", async () => {
    const log = captureLogger();
    const textfile = createTextfileCollector({ directory: dir });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string(), { minLength: 1, maxLength: 3 }), async (texts) => {
        for (const [i, t] of texts.entries()) write(`f${i}.prom`, t);
        for (const s of await textfile.collect(commandContext(T0, log.logger)))
          expect(Number.isFinite(s.value)).toBe(true);
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
      }),
      { numRuns: 30 },
    );
  });
});
