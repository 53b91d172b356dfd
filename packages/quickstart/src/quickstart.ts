import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { AGENT_PROCESS_ENV } from "@vigil/agent/v8-settings";
import { exited, runNode, spawnNode } from "./child-process.js";
import { dialAddress, localAgentToml, quickstartSettings } from "./quickstart-config.js";

const require = createRequire(import.meta.url);
const SERVER_BIN = resolve(require.resolve("@vigil/server/package.json"), "..", "bin", "vigil-server.js");
const AGENT_BIN = resolve(require.resolve("@vigil/agent/package.json"), "..", "bin", "vigil-agent.js");

const HEALTH_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export interface QuickstartIo {
  readonly out: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/**
 * `npm start`: the whole product on one machine. Starts the server, enrols a local agent on
 * first start (a one-time token from the server, exchanged over gRPC for a key kept in
 * `data/agent/api.key`), starts the agent, prints the URL, and on Ctrl-C stops both.
 * Resolves with the exit status.
 */
export async function quickstart(io: QuickstartIo): Promise<number> {
  const settings = quickstartSettings(io.env, (p) => resolve(io.cwd, p));
  mkdirSync(settings.dataDir, { recursive: true });
  const childEnv: NodeJS.ProcessEnv = {
    ...io.env,
    VIGIL_DATA_DIR: settings.dataDir,
    VIGIL_HTTP_LISTEN: settings.httpListen,
    VIGIL_GRPC_LISTEN: settings.grpcListen,
    VIGIL_LOG_LEVEL: settings.logLevel,
  };
  const httpUrl = `http://${dialAddress(settings.httpListen)}`;
  const children: ChildProcess[] = [];
  let stopping = false;
  // The agent stops first, so its last batches still reach a running server.
  const stopAll = async () => {
    stopping = true;
    for (const c of [...children].reverse()) {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
      const timer = setTimeout(() => c.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited(c);
      clearTimeout(timer);
    }
  };
  const onSignal = () => {
    if (!stopping) {
      io.out.write("\nvigil: stopping the agent and the server…\n");
      void stopAll();
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const server = spawnNode("server", SERVER_BIN, [], childEnv, io.out);
    children.push(server);
    const failed = watchUnexpectedExit(server, "server", () => stopping);
    await Promise.race([waitForHealth(`${httpUrl}/api/v1/health`, HEALTH_TIMEOUT_MS), failed]);

    const agentConfig = join(settings.dataDir, "agent.toml");
    if (!existsSync(agentConfig))
      writeFileSync(agentConfig, localAgentToml(dialAddress(settings.grpcListen)));
    if (!existsSync(join(settings.dataDir, "agent", "api.key"))) {
      const token = await runNode(SERVER_BIN, ["enroll-token", "create", "--ttl", "5m"], childEnv, io.out);
      if (token.code !== 0) throw new Error("could not create an enrolment token for the local agent");
      const enroll = await runNode(
        AGENT_BIN,
        [
          "enroll",
          "--config",
          agentConfig,
          "--server",
          dialAddress(settings.grpcListen),
          "--token",
          token.stdout.trim(),
        ],
        childEnv,
        io.out,
      );
      if (enroll.code !== 0) throw new Error("could not enrol the local agent");
    }
    // The environment the systemd unit gives the agent (glibc settings that keep its RSS down).
    const agentEnv = { ...AGENT_PROCESS_ENV, ...childEnv };
    const agent = spawnNode("agent", AGENT_BIN, ["--config", agentConfig], agentEnv, io.out);
    children.push(agent);
    const agentFailed = watchUnexpectedExit(agent, "agent", () => stopping);

    io.out.write(
      `\nVigil is running: ${httpUrl}\n` +
        `  data:   ${settings.dataDir}\n` +
        `  agent:  ${agentConfig}\n` +
        `  query:  curl -H "Authorization: Bearer $TOKEN" '${httpUrl}/api/v1/metrics?agent=${hostname()}&metric=cpu_usage_percent&labels=cpu=total&from=-5m'\n` +
        `          (TOKEN: printed above on the first start; make another with: npx vigil-server token create --name me)\n` +
        `Press Ctrl-C to stop.\n\n`,
    );
    await Promise.race([Promise.all([exited(server), exited(agent)]), failed, agentFailed]);
    return 0;
  } catch (err) {
    io.out.write(`vigil: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopAll();
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Rejects if the child exits while we are not stopping. */
function watchUnexpectedExit(child: ChildProcess, name: string, stopping: () => boolean): Promise<never> {
  return new Promise((_, reject) => {
    child.once("exit", (code, signal) => {
      if (!stopping())
        reject(new Error(`the ${name} exited unexpectedly (${signal ?? `exit code ${code}`})`));
    });
  });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`the server did not answer ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
