import { describe, expect, it } from "vitest";
import { fixturePath } from "./command-test-support.js";
import { isCollectorModuleError, loadCollectorModule } from "./module-collector.js";
import { captureLogger, StubProcFs } from "./test-support.js";

const plugin = (file: string) => fixturePath("plugins", file);

describe("loadCollectorModule", () => {
  it("loads a plugin's registration, options schema and collector", async () => {
    const registration = await loadCollectorModule(plugin("uptime-collector.mjs"));
    expect(registration.name).toBe("plugin_uptime");
    expect(registration.defaultEnabled).toBe(false);
    expect(registration.defaultIntervalMs).toBe(60_000);
    const options = registration.options.parse({ offset: 10 });
    const collector = registration.create(options);
    const proc = new StubProcFs({ uptime: "1234.50 4000.00\n" });
    const samples = await collector.collect({ now: 5, proc, sys: proc, logger: captureLogger().logger });
    expect(samples).toEqual([{ metric: "plugin_uptime_seconds", labels: {}, value: 1244.5, ts: 5 }]);
    expect(() => registration.options.parse({ unknown_key: 1 })).toThrow();
  });

  it.each([
    ["no-default.mjs", "has no default export"],
    ["wrong-name.mjs", 'named "other", not "declared"'],
    ["bad-metric.mjs", '"has-dash" does not follow the Prometheus rules'],
    ["syntax-error.mjs", "cannot import it"],
    ["does-not-exist.mjs", "cannot import it"],
  ])("refuses %s with a clear error", async (file, message) => {
    const error = await loadCollectorModule(plugin(file)).catch((e: unknown) => e);
    expect(isCollectorModuleError(error)).toBe(true);
    expect((error as Error).message).toContain(plugin(file));
    expect((error as Error).message).toContain(message);
  });

  it("refuses a relative path", async () => {
    await expect(loadCollectorModule("plugins/x.mjs")).rejects.toThrow(/absolute/);
  });
});
