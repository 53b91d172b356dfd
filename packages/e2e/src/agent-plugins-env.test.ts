import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AGENT_BIN, FIXTURES, runCli, tempDir } from "./harness.js";

const PLUGIN = join(FIXTURES, "plugins/uptime-collector.mjs");
const tmp = tempDir("vigil-e2e-plugins-");
afterAll(() => tmp.cleanup());

function config(name: string, text: string): string {
  const file = join(tmp.path, name);
  writeFileSync(file, text);
  return file;
}

describe("vigil-agent with a collector plugin", () => {
  it("check-config loads the plugin and lists it", async () => {
    const file = config(
      "ok.toml",
      `plugins = ["${PLUGIN}"]\n[collectors.plugin_uptime]\nenabled = true\ninterval = "2s"\noffset = 5\n`,
    );
    const r = await runCli(AGENT_BIN, ["check-config", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("plugin_uptime@2000ms");
    expect(r.stdout).toContain(`plugins ${PLUGIN}`);
  });

  it("collect --once --json runs the plugin's collector on this machine", async () => {
    const file = config(
      "collect.toml",
      `plugins = ["${PLUGIN}"]\n[collectors.plugin_uptime]\nenabled = true\n`,
    );
    const r = await runCli(AGENT_BIN, [
      "collect",
      "--once",
      "--json",
      "--interval",
      "100ms",
      "--config",
      file,
    ]);
    expect(r.code).toBe(0);
    const samples = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { metric: string; value: number });
    const uptime = samples.find((s) => s.metric === "plugin_uptime_seconds");
    expect(uptime?.value).toBeGreaterThan(0);
    expect(samples.some((s) => s.metric === "cpu_usage_percent")).toBe(true);
  });

  it("a plugin clashing with a built-in is exit 2 naming file, line and key", async () => {
    const clash = join(tmp.path, "cpu.mjs");
    writeFileSync(
      clash,
      'export default { name: "cpu", create: () => ({ name: "cpu", metrics: [], collect: async () => [] }) };\n',
    );
    const file = config("clash.toml", 'agent_id = "a"\nplugins = ["cpu.mjs"]\n');
    const r = await runCli(AGENT_BIN, ["check-config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `vigil-agent: invalid config: ${file}:2: plugins: collector module ${clash}: its collector "cpu" clashes with a built-in collector\n`,
    );
  });
});

describe("vigil-agent environment overrides", () => {
  it("VIGIL_AGENT__* set keys and a NAME reference fills secrets", async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${NAME} syntax
    const file = config("env.toml", 'api_key = "${E2E_KEY}"\n');
    const r = await runCli(AGENT_BIN, ["check-config", file], {
      E2E_KEY: "vga_x",
      VIGIL_AGENT__AGENT_ID: "from-env",
      VIGIL_AGENT__COLLECTORS__CPU__INTERVAL: "1s",
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("agent from-env");
    expect(r.stdout).toContain("cpu@1000ms");
  });

  it("a bad override is exit 2 naming the variable; an unset reference names the key", async () => {
    const file = config("plain.toml", 'agent_id = "a"\n');
    const bad = await runCli(AGENT_BIN, ["check-config", file], {
      VIGIL_AGENT__STREAM__MAX_IN_FLIGHT: "many",
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'vigil-agent: invalid config: environment: VIGIL_AGENT__STREAM__MAX_IN_FLIGHT: expected number, got the string "many"\n',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${NAME} syntax
    const secret = config("secret.toml", 'agent_id = "a"\napi_key = "${E2E_UNSET_KEY}"\n');
    const unset = await runCli(AGENT_BIN, ["check-config", secret], { E2E_UNSET_KEY: undefined });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(`${secret}:2: api_key: `);
    expect(unset.stderr).toContain("E2E_UNSET_KEY");
  });
});
