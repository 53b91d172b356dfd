import { hostname } from "node:os";
import { ProcFs } from "@vigil/collectors";
import { formatHostPort, type Logger } from "@vigil/common";
import { readApiKey } from "./api-key.js";
import { BatchQueue, type QueueStats } from "./batch-queue.js";
import { enabledCollectors } from "./collector-set.js";
import type { AgentConfig } from "./config.js";
import { Scheduler } from "./scheduler.js";
import { StreamClient } from "./stream-client.js";
import { AGENT_VERSION } from "./version.js";

export interface RunningAgent {
  /** Stops collecting, waits up to the shutdown timeout for acks, then closes. Resolves with the final counts. */
  stop(): Promise<QueueStats>;
  stats(): QueueStats;
}

/** Starts collecting and streaming. Throws ConfigError when there is no usable API key. */
export function startAgent(config: AgentConfig, logger: Logger): RunningAgent {
  const apiKey = readApiKey(config);
  const fs = { proc: new ProcFs(config.procfsRoot), sys: new ProcFs(config.sysfsRoot) };
  const queue = new BatchQueue(config.bufferMaxSamples, config.batchMaxSamples);
  const client = new StreamClient(queue, {
    address: formatHostPort(config.server),
    apiKey,
    agentId: config.agentId,
    hostname: hostname(),
    version: AGENT_VERSION,
    labels: config.labels,
    maxInFlight: config.maxInFlight,
    backoffInitialMs: config.backoffInitialMs,
    backoffMaxMs: config.backoffMaxMs,
    logger,
  });
  const flush = () => {
    if (queue.seal() > 0) client.pump();
  };
  const collectors = enabledCollectors(config);
  const scheduler = new Scheduler(
    collectors,
    fs,
    (samples) => {
      queue.add(samples);
      if (queue.openSamples >= config.batchMaxSamples) flush();
    },
    logger,
  );
  const flushTimer = setInterval(flush, config.flushIntervalMs);
  client.start();
  scheduler.start();
  logger.info(
    {
      agentId: config.agentId,
      server: formatHostPort(config.server),
      collectors: collectors.map((c) => `${c.collector.name}@${c.intervalMs}ms`),
      version: AGENT_VERSION,
    },
    "vigil-agent started",
  );

  return {
    stats: () => queue.stats(),
    async stop() {
      scheduler.stop();
      clearInterval(flushTimer);
      flush();
      const deadline = Date.now() + config.shutdownTimeoutMs;
      while (!queue.isEmpty && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      client.stop();
      fs.proc.close();
      fs.sys.close();
      const stats = queue.stats();
      if (stats.held > 0)
        logger.warn({ unacked: stats.held }, "stopping with unacknowledged samples; they are lost");
      logger.info({ ...stats, reconnects: client.reconnectCount }, "vigil-agent stopped");
      return stats;
    },
  };
}
