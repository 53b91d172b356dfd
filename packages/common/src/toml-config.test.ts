import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as z from "zod";
import { ConfigError, isConfigError } from "./config-error.js";
import { zDurationMs, zHostPort, zLogLevel } from "./config-schema.js";
import { parseTomlText, readTomlFile, validateConfig } from "./toml-config.js";

/** Catches what `fn` throws and checks it is a ConfigError. */
function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (isConfigError(err)) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

const schema = z.strictObject({
  name: z.string().default("vigil"),
  retries: z.number().int().min(0).default(3),
  server: z
    .strictObject({
      listen: zHostPort.default("127.0.0.1:9800"),
      timeout: zDurationMs({ minMs: 100, maxMs: 60_000 }).default(5_000),
      log_level: zLogLevel.default("info"),
    })
    .prefault({}),
  collectors: z.record(z.string(), z.strictObject({ enabled: z.boolean().optional() })).default({}),
  tags: z.array(z.string()).default([]),
});

function check(source: string) {
  return validateConfig("cfg.toml", source, parseTomlText("cfg.toml", source), schema);
}

describe("validateConfig", () => {
  it("fills defaults for an empty file", () => {
    expect(check("")).toEqual({
      name: "vigil",
      retries: 3,
      server: { listen: "127.0.0.1:9800", timeout: 5_000, log_level: "info" },
      collectors: {},
      tags: [],
    });
  });

  it("converts durations to milliseconds", () => {
    expect(check('[server]\ntimeout = "45s500ms"\n').server.timeout).toBe(45_500);
  });

  it("names the file, line and key of an unknown key and lists the allowed keys", () => {
    const err = configErrorOf(() => check('name = "x"\n\n[server]\nlisten = "127.0.0.1:1"\nlistne = 2\n'));
    expect(err.file).toBe("cfg.toml");
    expect(err.line).toBe(5);
    expect(err.key).toBe("server.listne");
    expect(err.problem).toBe("unknown key (allowed here: listen, timeout, log_level)");
    expect(err.message).toBe(
      "cfg.toml:5: server.listne: unknown key (allowed here: listen, timeout, log_level)",
    );
    expect(err.code).toBe("invalid_config");
  });

  it("lists the top-level keys for an unknown top-level key", () => {
    const err = configErrorOf(() => check("retries = 1\nbogus = true\n"));
    expect(err.message).toBe(
      "cfg.toml:2: bogus: unknown key (allowed here: name, retries, server, collectors, tags)",
    );
  });

  it("lists the keys of a record's value schema for an unknown key inside a record entry", () => {
    const err = configErrorOf(() => check("[collectors.cpu]\nenabled = true\nenabeld = false\n"));
    expect(err.line).toBe(3);
    expect(err.key).toBe("collectors.cpu.enabeld");
    expect(err.problem).toBe("unknown key (allowed here: enabled)");
  });

  it.each([
    ['retries = "3"\n', "retries", 'expected number, got the string "3"'],
    ["name = 5\n", "name", "expected string, got number 5"],
    ["name = true\n", "name", "expected string, got boolean true"],
    ["name = [1]\n", "name", "expected string, got an array"],
    ["name = { a = 1 }\n", "name", "expected string, got a table"],
    ['server = "x"\n', "server", 'expected object, got the string "x"'],
    ["tags = 3\n", "tags", "expected array, got number 3"],
  ])("names the wrong type and the value given: %j", (source, key, problem) => {
    const err = configErrorOf(() => check(source));
    expect(err.line).toBe(1);
    expect(err.key).toBe(key);
    expect(err.problem).toBe(problem);
  });

  it("reports a wrong type inside an array with the array's line", () => {
    const err = configErrorOf(() => check('\ntags = ["a",\n  7]\n'));
    expect(err.key).toBe("tags.1");
    expect(err.line).toBe(2);
    expect(err.problem).toBe("expected string, got number 7");
  });

  it("passes on messages of custom checks: bad duration, too short, bad host:port, bad level", () => {
    expect(configErrorOf(() => check('[server]\ntimeout = "soon"\n')).message).toBe(
      'cfg.toml:2: server.timeout: "soon" is not a duration (expected e.g. "500ms", "10s", "5m", "1h30m", "7d")',
    );
    expect(configErrorOf(() => check('[server]\ntimeout = "50ms"\n')).problem).toBe(
      '"50ms" is shorter than the minimum 100 ms',
    );
    expect(configErrorOf(() => check('[server]\ntimeout = "2m"\n')).problem).toBe(
      '"2m" is longer than the maximum 60000 ms',
    );
    expect(configErrorOf(() => check('[server]\nlisten = "localhost"\n')).problem).toBe(
      '"localhost" is not a host:port address (e.g. "127.0.0.1:9800" or "[::1]:9800")',
    );
    const level = configErrorOf(() => check('[server]\n\nlog_level = "loud"\n'));
    expect(level.line).toBe(3);
    expect(level.key).toBe("server.log_level");
  });

  it("gives no line when the key at fault is not written in the file", () => {
    const strict = z.strictObject({ required: z.string() });
    const err = configErrorOf(() => validateConfig("cfg.toml", "# nothing\n", {}, strict));
    expect(err.line).toBe(undefined);
    expect(err.key).toBe("required");
    expect(err.problem).toBe("is required (expected string)");
    expect(err.message).toBe("cfg.toml: required: is required (expected string)");
  });
});

describe("parseTomlText", () => {
  it("returns the data of valid TOML", () => {
    expect(parseTomlText("f.toml", 'a = 1\n[b]\nc = "d"\n')).toEqual({ a: 1, b: { c: "d" } });
  });

  it.each([
    ["a = 1\nb = \nc = 3\n", 2],
    ["a = 1\n\n\n[b\n", 4],
    ["a = 1\na = 2\n", 2],
    ['x = "unterminated\n', 1],
  ])("turns a syntax error into a ConfigError with its line: %j", (source, line) => {
    const err = configErrorOf(() => parseTomlText("f.toml", source));
    expect(err.file).toBe("f.toml");
    expect(err.line).toBe(line);
    expect(err.key).toBe(undefined);
    expect(err.problem).toMatch(/^TOML syntax error: \S/);
    expect(err.message.startsWith(`f.toml:${line}: TOML syntax error: `)).toBe(true);
    // one line, no code frame
    expect(err.message).not.toContain("\n");
  });
});

describe("readTomlFile", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-toml-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("returns the source and the parsed data", () => {
    const file = join(dir, "a.toml");
    writeFileSync(file, "[server]\nport = 9\n");
    expect(readTomlFile(file)).toEqual({ source: "[server]\nport = 9\n", data: { server: { port: 9 } } });
  });

  it("names the file and ENOENT when it does not exist", () => {
    const file = join(dir, "missing.toml");
    const err = configErrorOf(() => readTomlFile(file));
    expect(err.file).toBe(file);
    expect(err.line).toBe(undefined);
    expect(err.message).toBe(`${file}: cannot read the file (ENOENT)`);
  });

  it("names EISDIR when given a directory", () => {
    expect(configErrorOf(() => readTomlFile(dir)).problem).toBe("cannot read the file (EISDIR)");
  });

  it("names the file and line of a syntax error", () => {
    const file = join(dir, "bad.toml");
    writeFileSync(file, "ok = 1\n[broken\n");
    const err = configErrorOf(() => readTomlFile(file));
    expect(err.file).toBe(file);
    expect(err.line).toBe(2);
  });
});

describe("isConfigError", () => {
  it("accepts ConfigErrors only", () => {
    expect(isConfigError(new ConfigError({ file: "f", problem: "p" }))).toBe(true);
    expect(isConfigError(new Error("x"))).toBe(false);
    expect(isConfigError({ name: "ConfigError", problem: "p" })).toBe(false);
    expect(isConfigError(undefined)).toBe(false);
  });

  it("formats file, line and key into the message", () => {
    expect(new ConfigError({ file: "f", line: 3, key: "a.b", problem: "bad" }).message).toBe("f:3: a.b: bad");
    expect(new ConfigError({ file: "f", problem: "bad" }).message).toBe("f: bad");
  });
});
