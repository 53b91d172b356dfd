import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@vigil/common";
import { describe, expect, it } from "vitest";
import { collectOnce } from "./collect-once.js";
import { enabledCollectors } from "./collector-set.js";
import { loadAgentConfig } from "./config.js";
import { configErrorOf, tempDirPerTest } from "./test-support.js";

const PLUGINS = fileURLToPath(new URL("../../collectors/test/fixtures/plugins/", import.meta.url));
const PROC = fileURLToPath(new URL("../../collectors/test/fixtures/this-machine/t0/proc", import.meta.url));

const tmp = tempDirPerTest("vigil-agent-plugins-");

function write(text: string): string {
  const file = join(tmp.path, "agent.toml");
  writeFileSync(file, text);
  return file;
}

describe("plugins", () => {
  it("loads a plugin module, validates its section with its own schema, and runs it", async () => {
    const file = write(
      `plugins = ["${PLUGINS}uptime-collector.mjs"]\n[paths]\nprocfs = "${PROC}"\n[collectors.plugin_uptime]\nenabled = true\ninterval = "5s"\noffset = 100\n`,
    );
    const config = await loadAgentConfig(file);
    expect(config.plugins).toEqual([`${PLUGINS}uptime-collector.mjs`]);
    expect(config.registrations.map((r) => r.name).at(-1)).toBe("plugin_uptime");
    expect(config.collectors.plugin_uptime).toEqual({
      enabled: true,
      intervalMs: 5_000,
      options: { offset: 100 },
    });
    const plugin = enabledCollectors(config).filter((c) => c.collector.name === "plugin_uptime");
    expect(plugin.map((c) => c.intervalMs)).toEqual([5_000]);
    const samples = await collectOnce(
      plugin,
      { procfs: config.procfsRoot, sysfs: config.sysfsRoot },
      0,
      createLogger({ name: "test", level: "silent" }),
    );
    expect(samples).toHaveLength(1);
    expect(samples[0]?.metric).toBe("plugin_uptime_seconds");
    expect(samples[0]?.value).toBeGreaterThan(100);
  });

  it("keeps a plugin that is off by default off, and applies its option defaults", async () => {
    const file = write(`plugins = ["${PLUGINS}uptime-collector.mjs"]\n`);
    const config = await loadAgentConfig(file);
    expect(config.collectors.plugin_uptime?.options).toEqual({ offset: 0 });
    expect(enabledCollectors(config).map((c) => c.collector.name)).not.toContain("plugin_uptime");
  });

  it("resolves a relative plugin path against the config file's directory", async () => {
    writeFileSync(
      join(tmp.path, "mine.mjs"),
      'export default { name: "mine", create: () => ({ name: "mine", metrics: [], collect: async () => [] }) };\n',
    );
    const config = await loadAgentConfig(write('plugins = ["mine.mjs"]\n'));
    expect(config.plugins).toEqual([join(tmp.path, "mine.mjs")]);
    expect(enabledCollectors(config).map((c) => c.collector.name)).toContain("mine");
  });

  it("refuses a plugin option its schema does not know, naming the line and key", async () => {
    const file = write(
      `plugins = ["${PLUGINS}uptime-collector.mjs"]\n\n[collectors.plugin_uptime]\nofset = 1\n`,
    );
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.message).toBe(
      `${file}:4: collectors.plugin_uptime.ofset: unknown key (allowed here: enabled, interval, offset)`,
    );
  });

  it("without the plugin, its section is an unknown collector", async () => {
    const file = write("[collectors.plugin_uptime]\nenabled = true\n");
    expect((await configErrorOf(() => loadAgentConfig(file))).problem).toMatch(
      /^unknown collector "plugin_uptime"/,
    );
  });

  it.each([
    ["syntax-error.mjs", /cannot import it/],
    ["no-default.mjs", /has no default export object/],
    ["bad-metric.mjs", /metric name "has-dash"/],
    ["wrong-name.mjs", /named "other", not "declared"/],
    ["missing.mjs", /cannot import it/],
  ])("a plugin that does not load (%s) is a ConfigError at the plugins line", async (name, problem) => {
    const file = write(`agent_id = "a"\nplugins = ["${PLUGINS}${name}"]\n`);
    const err = await configErrorOf(() => loadAgentConfig(file));
    expect(err.file).toBe(file);
    expect(err.line).toBe(2);
    expect(err.key).toBe("plugins");
    expect(err.problem).toContain(`${PLUGINS}${name}`);
    expect(err.problem).toMatch(problem);
  });

  it.each([
    ["cpu", "a built-in collector"],
    ["agent", "reserved for the agent's own metrics"],
  ])("refuses a plugin whose collector is named %s", async (name, owner) => {
    const path = join(tmp.path, "clash.mjs");
    writeFileSync(
      path,
      `export default { name: "${name}", create: () => ({ name: "${name}", metrics: [], collect: async () => [] }) };\n`,
    );
    const err = await configErrorOf(() => loadAgentConfig(write('plugins = ["clash.mjs"]\n')));
    expect(err.line).toBe(1);
    expect(err.key).toBe("plugins");
    expect(err.problem).toBe(`collector module ${path}: its collector "${name}" clashes with ${owner}`);
  });

  it("refuses the same plugin twice", async () => {
    const file = write(`plugins = ["${PLUGINS}uptime-collector.mjs", "${PLUGINS}uptime-collector.mjs"]\n`);
    expect((await configErrorOf(() => loadAgentConfig(file))).problem).toBe(
      `collector module ${PLUGINS}uptime-collector.mjs: its collector "plugin_uptime" clashes with the plugin ${PLUGINS}uptime-collector.mjs`,
    );
  });

  it("refuses plugins that is not a list of paths", async () => {
    const err = await configErrorOf(() => loadAgentConfig(write('plugins = "x.mjs"\n')));
    expect(err.line).toBe(1);
    expect(err.problem).toMatch(/^expected an array of module paths/);
  });
});
