import { hostname } from "node:os";
import { ProcFs } from "@vigil/collectors";
import { formatHostPort, type Logger } from "@vigil/common";
import { readApiKey } from "./api-key.js";
import { BatchQueue, type QueueStats } from "./batch-queue.js";
import { enabledCollectors } from "./collector-set.js";
import type { AgentConfig } from "./config.js";
import { type FsRoots, type ScheduledCollector, Scheduler } from "./scheduler.js";
import { createSelfCollector, SELF_METRICS_INTERVAL_MS } from "./self-metrics.js";
import { Spool } from "./spool.js";
import { StreamClient } from "./stream-client.js";
import { AGENT_VERSION } from "./version.js";

export interface RunningAgent {
  /** Stops collecting, waits up to the shutdown timeout for acks, then closes. Resolves with the final counts. */
  stop(): Promise<QueueStats>;
  stats(): QueueStats;
  /**
   * Applies a new, already validated config (SIGHUP): collectors and intervals are swapped, the
   * buffer and the stream are kept; the stream is reopened only when what the server sees changes
   * (address, API key, agent id, labels) or its tuning does. Throws ConfigError, changing nothing,
   * when the new config has no usable API key.
   */
  reload(config: AgentConfig): { readonly reconnected: boolean };
}

/** The keys that need a new stream when they change. */
function streamKey(config: AgentConfig, apiKey: string): string {
  return JSON.stringify([
    formatHostPort(config.server),
    apiKey,
    config.agentId,
    config.labels,
    config.maxInFlight,
    config.backoffInitialMs,
    config.backoffMaxMs,
    config.keepaliveTimeMs,
    config.keepaliveTimeoutMs,
    config.tls?.fingerprint ?? "plaintext",
  ]);
}

/** How the stream is secured, for the start-up log line. */
function describeTls(config: AgentConfig): string {
  if (!config.tls) return config.insecure ? "off (tls.insecure)" : "off (loopback)";
  return config.tls.cert ? "mutual TLS" : "TLS";
}

/** Starts collecting and streaming. Throws ConfigError when there is no usable API key. */
export function startAgent(config: AgentConfig, logger: Logger): RunningAgent {
  let current = config;
  let apiKey = readApiKey(config);
  let fs: FsRoots = { proc: new ProcFs(config.procfsRoot), sys: new ProcFs(config.sysfsRoot) };
  const spool =
    config.spoolDir === undefined ? undefined : new Spool(config.spoolDir, config.spoolMaxBytes, logger);
  const queue = new BatchQueue(config.bufferMaxSamples, config.batchMaxSamples, spool);
  if (spool) {
    const restored = spool.load();
    queue.restore(restored);
    const samples = restored.reduce((n, b) => n + b.samples, 0);
    logger.info(
      { dir: spool.dir, batches: restored.length, samples, dropped: queue.stats().dropped },
      "spool loaded",
    );
  }
  const newClient = () =>
    new StreamClient(queue, {
      address: formatHostPort(current.server),
      apiKey,
      agentId: current.agentId,
      hostname: hostname(),
      version: AGENT_VERSION,
      labels: current.labels,
      maxInFlight: current.maxInFlight,
      backoffInitialMs: current.backoffInitialMs,
      backoffMaxMs: current.backoffMaxMs,
      tls: current.tls,
      keepaliveTimeMs: current.keepaliveTimeMs,
      keepaliveTimeoutMs: current.keepaliveTimeoutMs,
      logger,
    });
  let client = newClient();
  /** Reconnects of the stream clients a reload replaced, so agent_reconnects_total never goes back. */
  let earlierReconnects = 0;
  const flush = () => {
    if (queue.seal() > 0) client.pump();
  };
  let collectors = enabledCollectors(config);
  const self: ScheduledCollector = {
    collector: createSelfCollector({
      queue: () => queue.stats(),
      bufferMaxSamples: () => current.bufferMaxSamples,
      resentBatches: () => queue.resentBatches,
      reconnects: () => earlierReconnects + client.reconnectCount,
      collectorSuccess: () => scheduler.collectorSuccess(),
    }),
    intervalMs: SELF_METRICS_INTERVAL_MS,
  };
  const scheduler: Scheduler = new Scheduler(
    [...collectors, self],
    fs,
    (samples) => {
      queue.add(samples);
      if (queue.openSamples >= current.batchMaxSamples) flush();
    },
    logger,
  );
  let flushTimer = setInterval(flush, config.flushIntervalMs);
  client.start();
  scheduler.start();
  const describe = (list: readonly ScheduledCollector[]) =>
    list.map((c) => `${c.collector.name}@${c.intervalMs}ms`);
  logger.info(
    {
      agentId: config.agentId,
      server: formatHostPort(config.server),
      tls: describeTls(config),
      collectors: describe(collectors),
      version: AGENT_VERSION,
    },
    "vigil-agent started",
  );

  return {
    stats: () => queue.stats(),
    reload(next) {
      const nextKey = readApiKey(next);
      const reconnect = streamKey(next, nextKey) !== streamKey(current, apiKey);
      const previous = current;
      current = next;
      apiKey = nextKey;
      logger.level = next.logLevel;
      if (spool) spool.maxBytes = next.spoolMaxBytes;
      if (next.spoolDir !== previous.spoolDir)
        logger.warn(
          { spoolDir: next.spoolDir ?? null },
          "buffer.spool_dir changes take effect on restart; keeping the current spool",
        );
      queue.setLimits(next.bufferMaxSamples, next.batchMaxSamples);
      if (next.procfsRoot !== previous.procfsRoot || next.sysfsRoot !== previous.sysfsRoot) {
        const old = fs;
        fs = { proc: new ProcFs(next.procfsRoot), sys: new ProcFs(next.sysfsRoot) };
        old.proc.close();
        old.sys.close();
      }
      collectors = enabledCollectors(next, collectors);
      scheduler.update([...collectors, self], fs);
      if (next.flushIntervalMs !== previous.flushIntervalMs) {
        clearInterval(flushTimer);
        flushTimer = setInterval(flush, next.flushIntervalMs);
      }
      if (reconnect) {
        earlierReconnects += client.reconnectCount;
        client.stop();
        // Whatever the old stream had in flight is sent again on the new one (the server dedups).
        queue.requeueInFlight();
        client = newClient();
        client.start();
      }
      logger.info(
        {
          agentId: next.agentId,
          server: formatHostPort(next.server),
          collectors: describe(collectors),
          reconnect,
        },
        "config reloaded",
      );
      return { reconnected: reconnect };
    },
    async stop() {
      scheduler.stop();
      clearInterval(flushTimer);
      flush();
      const deadline = Date.now() + current.shutdownTimeoutMs;
      while (!queue.isEmpty && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      client.stop();
      fs.proc.close();
      fs.sys.close();
      const stats = queue.stats();
      if (stats.held > 0 && spool)
        logger.warn(
          { unacked: stats.held, spooled: spool.count },
          "stopping with unacknowledged samples; they stay spooled for the next start",
        );
      else if (stats.held > 0)
        logger.warn({ unacked: stats.held }, "stopping with unacknowledged samples; they are lost");
      logger.info(
        { ...stats, reconnects: earlierReconnects + client.reconnectCount, resent: queue.resentBatches },
        "vigil-agent stopped",
      );
      return stats;
    },
  };
}
