import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfigError, isConfigError } from "@vigil/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadServerConfig } from "./config.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-server-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(text: string): string {
  const file = join(dir, "server.toml");
  writeFileSync(file, text);
  return file;
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (isConfigError(err)) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

describe("loadServerConfig", () => {
  it("uses the built-in defaults without a file, data_dir under the cwd", () => {
    expect(loadServerConfig(undefined, {}, "/srv/vigil")).toEqual({
      dataDir: "/srv/vigil/data",
      httpListen: { host: "127.0.0.1", port: 9800 },
      grpcListen: { host: "127.0.0.1", port: 9801 },
      logLevel: "info",
      maxMessageBytes: 4 * 1024 * 1024,
      alertRules: [],
      agentSettings: new Map(),
      storage: {
        durability: "process",
        minuteRollupRetentionDays: 35,
        retentionDays: 15,
        rollupRetentionDays: 400,
        walMaxBytes: 64 * 1024 * 1024,
      },
      tls: undefined,
      file: undefined,
    });
  });

  it("reads the file and resolves a relative data_dir against the cwd, not the file's directory", () => {
    const file = write(
      [
        "[server]",
        'data_dir = "state/vigil"',
        'http_listen = "0.0.0.0:8080"',
        'grpc_listen = "[::1]:8081"',
        'log_level = "debug"',
        "[ingest]",
        "max_message_bytes = 1048576",
      ].join("\n"),
    );
    expect(loadServerConfig(file, {}, "/work/dir")).toEqual({
      dataDir: "/work/dir/state/vigil",
      httpListen: { host: "0.0.0.0", port: 8080 },
      grpcListen: { host: "::1", port: 8081 },
      logLevel: "debug",
      maxMessageBytes: 1_048_576,
      alertRules: [],
      agentSettings: new Map(),
      storage: {
        durability: "process",
        minuteRollupRetentionDays: 35,
        retentionDays: 15,
        rollupRetentionDays: 400,
        walMaxBytes: 64 * 1024 * 1024,
      },
      tls: undefined,
      file,
    });
  });

  it("resolves server.agent_bundle against the cwd", () => {
    const file = write('[server]\nagent_bundle = "dist/agent.js"\n');
    expect(loadServerConfig(file, {}, "/srv").agentBundlePath).toBe("/srv/dist/agent.js");
    expect(loadServerConfig(undefined, {}, "/srv").agentBundlePath).toBeUndefined();
  });

  it("keeps an absolute data_dir", () => {
    const file = write('[server]\ndata_dir = "/var/lib/vigil"\n');
    expect(loadServerConfig(file, {}, "/elsewhere").dataDir).toBe("/var/lib/vigil");
  });

  it("lets VIGIL_* environment variables win over the file", () => {
    const file = write(
      '[server]\ndata_dir = "/from/file"\nhttp_listen = "127.0.0.1:1"\ngrpc_listen = "127.0.0.1:2"\nlog_level = "warn"\n',
    );
    const env = {
      VIGIL_DATA_DIR: "env-data",
      VIGIL_HTTP_LISTEN: "127.0.0.2:7000",
      VIGIL_GRPC_LISTEN: "[::]:7001",
      VIGIL_LOG_LEVEL: "trace",
      VIGIL_TLS_INSECURE: "true",
    };
    expect(loadServerConfig(file, env, "/cwd")).toMatchObject({
      dataDir: "/cwd/env-data",
      httpListen: { host: "127.0.0.2", port: 7000 },
      grpcListen: { host: "::", port: 7001 },
      logLevel: "trace",
    });
  });

  it("applies the overrides to the defaults too, and ignores empty variables", () => {
    const c = loadServerConfig(undefined, { VIGIL_HTTP_LISTEN: "", VIGIL_GRPC_LISTEN: "localhost:1" }, "/c");
    expect(c.httpListen).toEqual({ host: "127.0.0.1", port: 9800 });
    expect(c.grpcListen).toEqual({ host: "localhost", port: 1 });
  });

  it.each([
    [
      "VIGIL_HTTP_LISTEN",
      "nope",
      '"nope" is not a host:port address (e.g. "127.0.0.1:9800" or "[::1]:9800")',
    ],
    [
      "VIGIL_GRPC_LISTEN",
      "127.0.0.1:65536",
      '"127.0.0.1:65536" is not a host:port address (e.g. "127.0.0.1:9800" or "[::1]:9800")',
    ],
  ])("names the environment and %s when its value %j is bad", (variable, value, problem) => {
    const err = configErrorOf(() => loadServerConfig(undefined, { [variable]: value }, "/c"));
    expect(err.file).toBe("environment");
    expect(err.line).toBe(undefined);
    expect(err.key).toBe(variable);
    expect(err.problem).toBe(problem);
    expect(err.message).toBe(`environment: ${variable}: ${problem}`);
  });

  it("names VIGIL_LOG_LEVEL and lists the levels when it is bad", () => {
    const file = write('[server]\nlog_level = "info"\n');
    const err = configErrorOf(() => loadServerConfig(file, { VIGIL_LOG_LEVEL: "loud" }, "/c"));
    expect(err.file).toBe("environment");
    expect(err.key).toBe("VIGIL_LOG_LEVEL");
    for (const level of ["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      expect(err.problem).toContain(`"${level}"`);
  });

  it("names file, line and key for a bad value in the file", () => {
    const file = write('[server]\ndata_dir = "./d"\n\nhttp_listen = "9800"\n');
    const err = configErrorOf(() => loadServerConfig(file, {}, "/c"));
    expect(err.message).toBe(
      `${file}:4: server.http_listen: "9800" is not a host:port address (e.g. "127.0.0.1:9800" or "[::1]:9800")`,
    );
  });

  it("lists the allowed keys for an unknown one", () => {
    const file = write('[server]\nhttp_listne = "127.0.0.1:1"\n');
    const err = configErrorOf(() => loadServerConfig(file, {}, "/c"));
    expect(err.line).toBe(2);
    expect(err.key).toBe("server.http_listne");
    expect(err.problem).toBe(
      "unknown key (allowed here: data_dir, http_listen, grpc_listen, log_level, agent_bundle)",
    );
  });

  it("refuses an empty data_dir and a message size out of range", () => {
    expect(configErrorOf(() => loadServerConfig(write('[server]\ndata_dir = ""\n'), {}, "/c")).problem).toBe(
      "must not be empty",
    );
    const err = configErrorOf(() =>
      loadServerConfig(write("[ingest]\nmax_message_bytes = 1024\n"), {}, "/c"),
    );
    expect(err.line).toBe(2);
    expect(err.key).toBe("ingest.max_message_bytes");
  });

  it("reports a missing file as ENOENT", () => {
    const file = join(dir, "missing.toml");
    expect(configErrorOf(() => loadServerConfig(file, {}, "/c")).message).toBe(
      `${file}: cannot read the file (ENOENT)`,
    );
  });
});

describe("[[alert.rules]]", () => {
  it("parses the rules with the alerts package", () => {
    const file = write(
      '[[alert.rules]]\nname = "HighMemory"\nkind = "threshold"\nmetric = "memory_used_percent"\nop = ">"\nthreshold = 90\nfor = "5m"\n',
    );
    const config = loadServerConfig(file, {}, dir);
    expect(config.alertRules.map((r) => [r.name, r.kind, r.severity])).toEqual([
      ["HighMemory", "threshold", "warning"],
    ]);
    expect(loadServerConfig(undefined, {}, dir).alertRules).toEqual([]);
  });

  it("names file, line, key and rule for a bad rule", () => {
    const file = write(
      '[server]\n\n[[alert.rules]]\nname = "HighMemory"\nkind = "threshold"\nmetric = "memory_used_percent"\nop = ">"\nthreshold = 90\nfor = "5 min"\n',
    );
    const err = configErrorOf(() => loadServerConfig(file, {}, dir));
    expect(err.message).toMatch(/server\.toml:9: alert\.rules\.0\.for: rule "?HighMemory"?: /);
  });
});
