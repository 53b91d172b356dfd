import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { builtinCollectors } from "@vigil/collectors";
import { isConfigError } from "@vigil/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent.js";
import { loadAgentConfig } from "./config.js";
import { captureLogger } from "./test-support.js";

const PROC = fileURLToPath(new URL("../../collectors/test/fixtures/this-machine/t0/proc", import.meta.url));

let dir: string;
let agent: RunningAgent | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-agent-reload-"));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A config on the recorded /proc tree, nothing listening at `server`, only the named collectors on. */
function configText(server: string, on: readonly string[], extra = ""): string {
  const sections = builtinCollectors()
    .map((r) => `[collectors.${r.name}]\nenabled = ${on.includes(r.name)}\n`)
    .join("");
  return `agent_id = "a"\nserver = "${server}"\n${extra}[paths]\nprocfs = "${PROC}"\nsysfs = "${PROC}"\n[stream]\nshutdown_timeout = "0s"\n${sections}`;
}

async function load(text: string) {
  const file = join(dir, "agent.toml");
  writeFileSync(file, text);
  return loadAgentConfig(file);
}

describe("RunningAgent.reload", () => {
  it("keeps the stream for a collector change and reopens it for a new server or key", async () => {
    const { logger, lines } = captureLogger();
    agent = startAgent(await load(configText("127.0.0.1:1", ["cpu"], 'api_key = "k1"\n')), logger);
    expect(
      agent.reload(await load(configText("127.0.0.1:1", ["cpu", "memory"], 'api_key = "k1"\n'))),
    ).toEqual({
      reconnected: false,
    });
    expect(lines.find((l) => l.msg === "config reloaded")?.collectors).toEqual([
      "cpu@10000ms",
      "memory@10000ms",
    ]);
    expect(agent.reload(await load(configText("127.0.0.1:2", ["cpu"], 'api_key = "k1"\n')))).toEqual({
      reconnected: true,
    });
    expect(agent.reload(await load(configText("127.0.0.1:2", ["cpu"], 'api_key = "k2"\n')))).toEqual({
      reconnected: true,
    });
    expect(
      agent.reload(await load(configText("127.0.0.1:2", ["cpu"], 'api_key = "k2"\nlog_level = "warn"\n'))),
    ).toEqual({
      reconnected: false,
    });
  });

  it("refuses a config without a usable key and changes nothing", async () => {
    const { logger } = captureLogger();
    agent = startAgent(await load(configText("127.0.0.1:1", ["cpu"], 'api_key = "k1"\n')), logger);
    const noKey = await load(configText("127.0.0.1:9", ["memory"], 'api_key_file = "missing.key"\n'));
    let thrown: unknown;
    try {
      agent.reload(noKey);
    } catch (err) {
      thrown = err;
    }
    expect(isConfigError(thrown)).toBe(true);
    // Still on the first config: the same server and key are no change.
    expect(agent.reload(await load(configText("127.0.0.1:1", ["cpu"], 'api_key = "k1"\n')))).toEqual({
      reconnected: false,
    });
  });
});
