// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests are about ${NAME} in config text.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadAgentConfig } from "./config.js";
import { readEnvOverrides } from "./env-overrides.js";
import { configErrorOf, tempDirPerTest } from "./test-support.js";

const PLUGINS = fileURLToPath(new URL("../../collectors/test/fixtures/plugins/", import.meta.url));

const tmp = tempDirPerTest("vigil-agent-env-");

function write(text: string): string {
  const file = join(tmp.path, "agent.toml");
  writeFileSync(file, text);
  return file;
}

describe("readEnvOverrides", () => {
  it("maps VIGIL_AGENT__A__B to the lower-case key path, ignoring empty values and other variables", () => {
    expect(
      readEnvOverrides({
        VIGIL_AGENT__STREAM__FLUSH_INTERVAL: "2s",
        VIGIL_AGENT__SERVER: "",
        VIGIL_DATA_DIR: "/x",
        PATH: "/bin",
        VIGIL_AGENT__COLLECTORS__CPU__INTERVAL: "1s",
      }),
    ).toEqual([
      {
        variable: "VIGIL_AGENT__COLLECTORS__CPU__INTERVAL",
        path: ["collectors", "cpu", "interval"],
        text: "1s",
      },
      { variable: "VIGIL_AGENT__STREAM__FLUSH_INTERVAL", path: ["stream", "flush_interval"], text: "2s" },
    ]);
  });

  it("refuses a variable with an empty part", () => {
    expect(() => readEnvOverrides({ VIGIL_AGENT__STREAM____X: "1" })).toThrow(
      "environment: VIGIL_AGENT__STREAM____X: is not a key path",
    );
  });
});

describe("VIGIL_AGENT__* overrides", () => {
  it("override the file, strings as they are, other keys read as TOML values", async () => {
    const file = write(
      'server = "10.0.0.1:9801"\n[tls]\ninsecure = true\n[stream]\nflush_interval = "5s"\n[collectors.cpu]\ninterval = "10s"\n',
    );
    const c = await loadAgentConfig(file, {
      env: {
        VIGIL_AGENT__SERVER: "10.0.0.2:7000",
        VIGIL_AGENT__AGENT_ID: "1234", // a string key: not read as the number 1234
        VIGIL_AGENT__STREAM__FLUSH_INTERVAL: "2s",
        VIGIL_AGENT__STREAM__MAX_IN_FLIGHT: "4",
        VIGIL_AGENT__BUFFER__MAX_SAMPLES: "5_000",
        VIGIL_AGENT__LOG_LEVEL: "debug",
        VIGIL_AGENT__LABELS__ENV: "prod",
        VIGIL_AGENT__COLLECTORS__CPU__INTERVAL: "1s",
        VIGIL_AGENT__COLLECTORS__MEMORY__ENABLED: "false",
        VIGIL_AGENT__COLLECTORS__NETWORK__EXCLUDE_INTERFACES: '["lo", "docker*"]',
      },
    });
    expect(c.server).toEqual({ host: "10.0.0.2", port: 7000 });
    expect(c.agentId).toBe("1234");
    expect(c.flushIntervalMs).toBe(2_000);
    expect(c.maxInFlight).toBe(4);
    expect(c.bufferMaxSamples).toBe(5_000);
    expect(c.logLevel).toBe("debug");
    expect(c.labels).toEqual({ env: "prod" });
    expect(c.collectors.cpu?.intervalMs).toBe(1_000);
    expect(c.collectors.memory?.enabled).toBe(false);
    expect(c.collectors.network?.options.exclude_interfaces).toEqual(["lo", "docker*"]);
  });

  it("reach a plugin's section, and VIGIL_AGENT__PLUGINS adds plugins", async () => {
    const c = await loadAgentConfig(write(""), {
      env: {
        VIGIL_AGENT__PLUGINS: `["${PLUGINS}uptime-collector.mjs"]`,
        VIGIL_AGENT__COLLECTORS__PLUGIN_UPTIME__OFFSET: "7",
      },
    });
    expect(c.collectors.plugin_uptime?.options).toEqual({ offset: 7 });
  });

  it.each([
    [{ VIGIL_AGENT__STREAM__FLUSH_INTERVAL: "soon" }, "VIGIL_AGENT__STREAM__FLUSH_INTERVAL", /duration/],
    [
      { VIGIL_AGENT__STREAM__MAX_IN_FLIGHT: "many" },
      "VIGIL_AGENT__STREAM__MAX_IN_FLIGHT",
      /expected number, got the string "many"/,
    ],
    [
      { VIGIL_AGENT__STREAM__FLUSH: "1s" },
      "VIGIL_AGENT__STREAM__FLUSH",
      /^unknown key \(allowed here: batch_max_samples, flush_interval/,
    ],
    [
      { VIGIL_AGENT__COLLECTORS__NOPE__ENABLED: "true" },
      "VIGIL_AGENT__COLLECTORS__NOPE__ENABLED",
      /unknown collector "nope"/,
    ],
    [{ VIGIL_AGENT__SERVER: "nohost" }, "VIGIL_AGENT__SERVER", /./],
    [
      { VIGIL_AGENT__SERVER__HOST: "x" },
      "VIGIL_AGENT__SERVER__HOST",
      /^server: expected string, got a table/,
    ],
    [{ VIGIL_AGENT__API_KEY: "k" }, "VIGIL_AGENT__API_KEY", /set api_key or api_key_file, not both/],
    [
      { VIGIL_AGENT__PLUGINS: '["/nowhere.mjs"]' },
      "VIGIL_AGENT__PLUGINS",
      /collector module \/nowhere.mjs: cannot import it/,
    ],
  ])("a bad override %j is a ConfigError naming the variable", async (env, variable, problem) => {
    const file = write('api_key_file = "k"\n[stream]\nflush_interval = "1s"\n');
    const err = await configErrorOf(() => loadAgentConfig(file, { env }));
    expect(err.file).toBe("environment");
    expect(err.key).toBe(variable);
    expect(err.line).toBeUndefined();
    expect(err.problem).toMatch(problem);
  });
});

describe("${NAME} in string values", () => {
  it("expands environment variables anywhere in strings, in tables and arrays; $${ is a literal", async () => {
    const file = write(
      [
        'api_key = "${VIGIL_KEY}"',
        'server = "${HOST}:${PORT}"',
        "[labels]",
        'note = "$${NOT_EXPANDED}"',
        "[collectors.directory]",
        'paths = ["${DATA}/a"]',
        "[tls]",
        "insecure = true",
      ].join("\n"),
    );
    const c = await loadAgentConfig(file, {
      env: { VIGIL_KEY: "vga_secret", HOST: "10.1.1.1", PORT: "9801", DATA: "/srv" },
    });
    expect(c.apiKey).toBe("vga_secret");
    expect(c.server).toEqual({ host: "10.1.1.1", port: 9801 });
    expect(c.labels).toEqual({ note: "${NOT_EXPANDED}" });
    expect(c.collectors.directory?.options.paths).toEqual(["/srv/a"]);
  });

  it("an unset variable is a ConfigError naming the file, line and key", async () => {
    const file = write('agent_id = "a"\n\n[labels]\nteam = "${TEAM}"\n');
    const err = await configErrorOf(() => loadAgentConfig(file, { env: {} }));
    expect(err.message).toBe(
      `${file}:4: labels.team: \${TEAM} refers to an environment variable that is not set`,
    );
  });

  it("an empty variable expands to the empty string, and the schema judges it", async () => {
    const file = write('api_key = "${VIGIL_KEY}"\n');
    const err = await configErrorOf(() => loadAgentConfig(file, { env: { VIGIL_KEY: "" } }));
    expect(err.line).toBe(1);
    expect(err.key).toBe("api_key");
  });
});
