import { readFileSync, writeFileSync } from "node:fs";
import { builtinCollectors } from "@vigil/collectors";
import { afterAll, describe, expect, it } from "vitest";
import {
  AGENT_BIN,
  enrolledAgentConfig,
  eventually,
  type Proc,
  readStoredSamples,
  type ServerHandle,
  startNode,
  startServer,
  tempDir,
} from "./harness.js";

const AGENT_ID = "reload-1";
const tmp = tempDir("vigil-e2e-reload-");
let server: ServerHandle | undefined;
let agent: Proc | undefined;
afterAll(async () => {
  await agent?.stop("SIGKILL");
  await server?.proc.stop();
  tmp.cleanup();
});

/** Collector sections: only the named ones on, each every second. */
function collectors(on: readonly string[], extra = ""): string {
  const sections = builtinCollectors().map((r) =>
    on.includes(r.name)
      ? `[collectors.${r.name}]\nenabled = true\ninterval = "1s"\n`
      : `[collectors.${r.name}]\nenabled = false\n`,
  );
  return `[stream]\nflush_interval = "200ms"\n\n${sections.join("\n")}${extra}`;
}

describe("SIGHUP reloads the agent's config", () => {
  it("swaps collectors on the same stream, keeps running on a bad file, and reports self-metrics", async () => {
    server = await startServer(tmp.path);
    const file = await enrolledAgentConfig(server, tmp.path, {
      agentId: AGENT_ID,
      extra: collectors(["cpu"]),
    });
    const head = readFileSync(file, "utf8").split("[stream]")[0] as string;
    const stored = (metric: string) => readStoredSamples(tmp.path, AGENT_ID, metric);

    agent = startNode(AGENT_BIN, ["--config", file]);
    await agent.waitForLog("connected to server");
    await eventually(() => stored("cpu_usage_percent").length > 0, 20_000, "cpu samples");
    expect(stored("memory_total_bytes")).toEqual([]);

    // A valid change: memory on. Same server and key, so no new stream.
    writeFileSync(file, head + collectors(["cpu", "memory"]));
    agent.child.kill("SIGHUP");
    const reloaded = await agent.waitForLog("config reloaded");
    expect(reloaded.reconnect).toBe(false);
    expect(reloaded.collectors).toEqual(["cpu@1000ms", "memory@1000ms"]);
    await eventually(() => stored("memory_total_bytes").length > 0, 20_000, "memory samples after reload");

    // An invalid file: logged with the key at fault; the agent keeps collecting on the old config.
    writeFileSync(file, `${head + collectors(["cpu", "memory"])}\n[collectors.memory]\nintervall = "1s"\n`);
    agent.child.kill("SIGHUP");
    const failed = await agent.waitForLog("config reload failed; still running on the previous config");
    expect(String(failed.reason)).toContain(file);
    const before = stored("memory_total_bytes").length;
    await eventually(
      () => stored("memory_total_bytes").length > before + 1,
      20_000,
      "memory samples after a bad reload",
    );

    // The agent's own series arrive like any other (every 10 s).
    const success = await eventually(
      () => {
        const rows = stored("vigil_collector_success").filter((s) => s.labels.collector === "memory");
        return rows.length > 0 ? rows : undefined;
      },
      25_000,
      "vigil_collector_success",
    );
    expect(success.at(-1)?.value).toBe(1);
    expect(stored("agent_rss_bytes").at(-1)?.value).toBeGreaterThan(1_000_000);
    expect(stored("agent_buffer_fill_percent").length).toBeGreaterThan(0);
    expect(stored("agent_reconnects_total").at(-1)?.value).toBe(0);

    expect(agent.lines.filter((l) => l.includes('"msg":"connected to server"'))).toHaveLength(1);
    expect(await agent.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  }, 90_000);
});
