import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { commandContext, fixtureBin, fixtureFile } from "./command-test-support.js";
import { createSystemdCollector, parseSystemctlJson, parseSystemctlPlain } from "./systemd.js";
import { captureLogger } from "./test-support.js";

const T0 = 1_764_040_000_000;
const FAKE = fixtureBin("fake-systemctl");
const INFO = 30;

function series(samples: readonly { metric: string; labels: object; value: number }[]): string[] {
  return samples.map((s) => `${s.metric}${JSON.stringify(s.labels)} ${s.value}`);
}

describe("parseSystemctlJson", () => {
  it("reads the two-unit recording", () => {
    const parsed = parseSystemctlJson(fixtureFile("systemctl", "two-failed-json.stdout"));
    expect(parsed).toEqual({
      recognised: true,
      skipped: 0,
      units: [
        {
          unit: "backup-nightly.service",
          load: "loaded",
          active: "failed",
          sub: "failed",
          description: "Nightly backup to the NAS",
        },
        {
          unit: "certbot-renew.timer",
          load: "loaded",
          active: "failed",
          sub: "failed",
          description: "Run certbot twice daily",
        },
      ],
    });
  });

  it("takes [] and empty output as no units, a table as not JSON", () => {
    expect(parseSystemctlJson("[]\n")).toEqual({ units: [], recognised: true, skipped: 0 });
    expect(parseSystemctlJson("")).toEqual({ units: [], recognised: true, skipped: 0 });
    expect(parseSystemctlJson(fixtureFile("systemctl", "old-systemd-json.stdout")).recognised).toBe(false);
    expect(parseSystemctlJson('{"unit":"a"}').recognised).toBe(false);
  });

  it("skips entries without a unit name", () => {
    const parsed = parseSystemctlJson('[{"unit":"a.service"},{"load":"loaded"},7,null,{"unit":""}]');
    expect(parsed.units.map((u) => u.unit)).toEqual(["a.service"]);
    expect(parsed.skipped).toBe(4);
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseSystemctlJson(text)));
    fc.assert(fc.property(fc.json(), (text) => void parseSystemctlJson(text)));
  });

  it("finds every unit of a generated array", () => {
    const unit = fc.record({
      unit: fc.string({ minLength: 1 }),
      load: fc.string(),
      active: fc.string(),
      sub: fc.string(),
      description: fc.string(),
    });
    fc.assert(
      fc.property(fc.array(unit), (units) => {
        expect(parseSystemctlJson(JSON.stringify(units)).units).toEqual(units);
      }),
    );
  });
});

describe("parseSystemctlPlain", () => {
  it("reads the two-unit table, keeping spaces inside descriptions", () => {
    const parsed = parseSystemctlPlain(fixtureFile("systemctl", "two-failed-plain.stdout"));
    expect(parsed.units.map((u) => [u.unit, u.active, u.description])).toEqual([
      ["backup-nightly.service", "failed", "Nightly backup to the NAS"],
      ["certbot-renew.timer", "failed", "Run certbot twice daily"],
    ]);
    expect(parsed.skipped).toBe(0);
  });

  it("drops a bullet, skips short lines", () => {
    const parsed = parseSystemctlPlain(
      "● a.service loaded failed failed A\n* b.mount loaded failed failed\nshort line\nx y notastate z\n",
    );
    expect(parsed.units.map((u) => u.unit)).toEqual(["a.service", "b.mount"]);
    expect(parsed.skipped).toBe(2);
  });

  it("never throws and finds every generated row", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseSystemctlPlain(text)));
    const word = fc.stringMatching(/^[a-z0-9@._-]{1,20}$/).filter((w) => w !== "*");
    const state = fc.constantFrom("failed", "active", "inactive", "activating");
    const row = fc.tuple(word, word, state, word, fc.array(word, { maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(row, { maxLength: 10 }), (rows) => {
        const text = rows.map(([u, l, a, s, d]) => `${u}  ${l} ${a}   ${s} ${d.join(" ")}\n`).join("");
        const parsed = parseSystemctlPlain(text);
        expect(parsed.units.map((u) => [u.unit, u.load, u.active, u.sub, u.description])).toEqual(
          rows.map(([u, l, a, s, d]) => [u, l, a, s, d.join(" ")]),
        );
      }),
    );
  });
});

describe("systemd collector (through a fake systemctl process)", () => {
  let dir: string;
  let callLog: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-systemd-"));
    callLog = path.join(dir, "calls");
    vi.stubEnv("FAKE_SYSTEMCTL_LOG", callLog);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const calls = () => (fs.existsSync(callLog) ? fs.readFileSync(callLog, "utf8").trim().split("\n") : []);

  it("reports two failed units from JSON, and none once they recover", async () => {
    vi.stubEnv("FAKE_SYSTEMCTL_CASE", "two-failed");
    const log = captureLogger();
    const collector = createSystemdCollector({ systemctl_path: FAKE });
    const first = await collector.collect(commandContext(T0, log.logger));
    expect(series(first)).toEqual([
      "systemd_units_failed{} 2",
      'systemd_unit_failed{"unit":"backup-nightly.service"} 1',
      'systemd_unit_failed{"unit":"certbot-renew.timer"} 1',
    ]);
    expect(first.every((s) => s.ts === T0)).toBe(true);
    vi.stubEnv("FAKE_SYSTEMCTL_CASE", "none");
    expect(series(await collector.collect(commandContext(T0 + 1, log.logger)))).toEqual([
      "systemd_units_failed{} 0",
    ]);
    expect(calls()).toEqual([
      "json list-units --state=failed --no-pager --output=json",
      "json list-units --state=failed --no-pager --output=json",
    ]);
    expect(log.lines.filter((l) => l.level >= INFO)).toEqual([]);
  });

  it("falls back to the plain table when systemctl ignores --output=json, and remembers", async () => {
    vi.stubEnv("FAKE_SYSTEMCTL_CASE", "old-systemd");
    const log = captureLogger();
    const collector = createSystemdCollector({ systemctl_path: FAKE });
    for (const now of [T0, T0 + 1]) {
      expect(series(await collector.collect(commandContext(now, log.logger)))).toEqual([
        "systemd_units_failed{} 1",
        'systemd_unit_failed{"unit":"backup-nightly.service"} 1',
      ]);
    }
    expect(calls().map((c) => c.split(" ")[0])).toEqual(["json", "plain", "plain"]);
    expect(log.lines.filter((l) => l.level === INFO)).toHaveLength(1);
    expect(log.warnings()).toEqual([]);
  });

  it("stops with one info line on this machine's recorded 'not booted with systemd' answer", async () => {
    vi.stubEnv("FAKE_SYSTEMCTL_CASE", "this-machine");
    const log = captureLogger();
    const collector = createSystemdCollector({ systemctl_path: FAKE });
    expect(await collector.collect(commandContext(T0, log.logger))).toEqual([]);
    expect(await collector.collect(commandContext(T0 + 1, log.logger))).toEqual([]);
    expect(calls()).toHaveLength(1);
    const infos = log.lines.filter((l) => l.level === INFO);
    expect(infos).toHaveLength(1);
    expect(infos[0]?.msg).toContain("has not been booted with systemd");
    expect(log.warnings()).toEqual([]);
  });

  it("stops with one info line when systemctl does not exist", async () => {
    const log = captureLogger();
    const collector = createSystemdCollector({ systemctl_path: path.join(dir, "no-such-systemctl") });
    expect(await collector.collect(commandContext(T0, log.logger))).toEqual([]);
    expect(await collector.collect(commandContext(T0 + 1, log.logger))).toEqual([]);
    const infos = log.lines.filter((l) => l.level === INFO);
    expect(infos).toHaveLength(1);
    expect(infos[0]?.msg).toContain("not found");
    expect(log.warnings()).toEqual([]);
  });

  it("warns once when systemctl hangs past the timeout, and keeps trying", async () => {
    vi.stubEnv("FAKE_SYSTEMCTL_CASE", "two-failed");
    vi.stubEnv("FAKE_SYSTEMCTL_SLEEP", "5");
    const log = captureLogger();
    const collector = createSystemdCollector({ systemctl_path: FAKE, timeout: 200 });
    const started = Date.now();
    expect(await collector.collect(commandContext(T0, log.logger))).toEqual([]);
    expect(await collector.collect(commandContext(T0 + 1, log.logger))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("killed");
    vi.stubEnv("FAKE_SYSTEMCTL_SLEEP", "");
    expect(series(await collector.collect(commandContext(T0 + 2, log.logger)))[0]).toBe(
      "systemd_units_failed{} 2",
    );
  });

  it("skips garbage lines (their ACTIVE column is no systemd state) and warns once", async () => {
    vi.stubEnv("FAKE_SYSTEMCTL_CASE", "garbage");
    const log = captureLogger();
    const collector = createSystemdCollector({ systemctl_path: FAKE });
    for (const now of [T0, T0 + 1]) {
      expect(series(await collector.collect(commandContext(now, log.logger)))).toEqual([
        "systemd_units_failed{} 0",
      ]);
    }
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("skipped 1 unit");
  });
});
