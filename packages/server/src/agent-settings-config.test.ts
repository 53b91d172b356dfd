import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isConfigError } from "@vigil/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadAlertConfig, loadServerConfig } from "./config.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-agent-settings-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(text: string): string {
  const file = join(dir, "server.toml");
  writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isConfigError(err)) return err.message;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe('[agents."ID"] settings', () => {
  it("reads expected_offline and maintenance windows (strings or TOML date-times)", () => {
    const file = write(
      [
        '[agents."db-1"]',
        'maintenance = [{ start = "2026-11-25T02:00:00Z", end = "2026-11-25T04:00:00Z" },',
        "               { start = 2026-11-26T02:00:00+01:00, end = 2026-11-26T03:00:00+01:00 }]",
        "",
        "[agents.nas-1]",
        "expected_offline = true",
      ].join("\n"),
    );
    const expected = new Map([
      [
        "db-1",
        {
          expectedOffline: false,
          maintenance: [
            { startMs: Date.UTC(2026, 10, 25, 2), endMs: Date.UTC(2026, 10, 25, 4) },
            { startMs: Date.UTC(2026, 10, 26, 1), endMs: Date.UTC(2026, 10, 26, 2) },
          ],
        },
      ],
      ["nas-1", { expectedOffline: true, maintenance: [] }],
    ]);
    expect(loadServerConfig(file, {}, dir).agentSettings).toEqual(expected);
    expect(loadAlertConfig(file).agentSettings).toEqual(expected);
  });

  it("names file, line and key for a bad window, a bad time, an unknown key and a bad agent id", () => {
    const bad = (text: string) => errorOf(() => loadServerConfig(write(text), {}, dir));
    const file = join(dir, "server.toml");
    expect(
      bad(
        '[agents."db-1"]\nmaintenance = [{ start = "2026-11-25T04:00:00Z", end = "2026-11-25T02:00:00Z" }]\n',
      ),
    ).toBe(`${file}:2: agents.db-1.maintenance.0.end: end must be after start`);
    expect(
      bad('[agents."db-1"]\nmaintenance = [{ start = "tomorrow", end = "2026-11-25T02:00:00Z" }]\n'),
    ).toBe(
      `${file}:2: agents.db-1.maintenance.0.start: must be an RFC 3339 time with a zone, e.g. "2026-11-25T02:00:00Z", not "tomorrow"`,
    );
    expect(bad('[agents."db-1"]\nexpected_ofline = true\n')).toMatch(
      new RegExp(`^${file}:2: agents\\.db-1\\.expected_ofline: unknown key`),
    );
    expect(bad('[agents."db 1"]\nexpected_offline = true\n')).toBe(
      `${file}:1: agents.db 1: "db 1" is not an agent id: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  });
});
