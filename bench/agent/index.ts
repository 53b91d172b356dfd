/**
 * bench/agent: what the running agent costs the machine it watches. Side by side in one run: the real
 * vigil-agent (the single-file bundle `npm run build` makes, built here into a temp dir) with every
 * default collector at a 1 s interval, streaming to a real vigil-server on loopback, started with the
 * environment its systemd unit sets (AGENT_PROCESS_ENV), and a second one without it; Debian's
 * prometheus-node-exporter with its defaults, scraped every second over HTTP by this process (the
 * peer); and an idle `node -e 'setInterval(()=>{},1000)'` (the floor: what any Node process costs).
 * CPU and RSS of each come from /proc/<pid>/stat and status. Figures go to stdout, one JSON line each;
 * progress to stderr. docs/benchmarks.md explains every figure.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AGENT_PROCESS_ENV } from "@vigil/agent/v8-settings";
import { builtinCollectors } from "@vigil/collectors";
import { installCleanupHooks, onCleanup } from "../harness/cleanup.js";
import { emitFigure, logProgress, significant } from "../harness/figure.js";
import { freePort } from "../harness/free-port.js";
import { median } from "../harness/median.js";
import { runToEnd } from "../harness/run-to-end.js";
import { SERVER_BIN, startServer } from "../ingest/server-process.js";
import { type Child, spawnChild } from "./children.js";
import { cpuPercent, type ProcUsage, readProcUsage } from "./proc-usage.js";

const BENCHMARK = "agent";
const DEFAULT_SECONDS = 60;
/** Measured seconds; `VIGIL_BENCH_AGENT_SECONDS=10` for a quick check. */
const SECONDS = readSeconds(process.env.VIGIL_BENCH_AGENT_SECONDS);
/** Untimed seconds first, so start-up (JIT, first connection, first reads) is not charged. */
const WARMUP_SECONDS = Math.min(10, Math.max(2, Math.round(SECONDS / 3)));
const HARD_LIMIT_MS = (SECONDS + WARMUP_SECONDS + 90) * 1000;
/**
 * Extra `node` flags for the agent, split on spaces: `VIGIL_BENCH_AGENT_NODE_FLAGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof"` profiles it (the profile is written when it stops).
 */
const AGENT_NODE_FLAGS = (process.env.VIGIL_BENCH_AGENT_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
const AGENT_ID = "bench-agent";
const PLAIN_AGENT_ID = "bench-agent-plain";
/** The goals. */
const GOAL_AGENT_RSS_MIB = 60;
const NODE_EXPORTER_NAMES = ["prometheus-node-exporter", "node_exporter"];
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUNDLE_SCRIPT = join(ROOT, "packages/agent/scripts/bundle.mjs");
const MIB = 1024 * 1024;

const log = (message: string) => logProgress(BENCHMARK, message);

function readSeconds(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_SECONDS;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 3600) {
    process.stderr.write(`bench ${BENCHMARK}: VIGIL_BENCH_AGENT_SECONDS must be an integer 2–3600\n`);
    process.exit(2);
  }
  return seconds;
}

/** The node_exporter binary on PATH (or in /usr/bin), or undefined. */
function findNodeExporter(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/sbin"];
  for (const name of NODE_EXPORTER_NAMES)
    for (const dir of dirs) if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Series in a Prometheus text exposition: every line that is neither empty nor a comment. */
function countExposedSeries(text: string): number {
  let n = 0;
  for (const line of text.split("\n")) if (line !== "" && !line.startsWith("#")) n++;
  return n;
}

/** One measured process: its readings, one per second of the timed window. */
interface Watched {
  readonly label: string;
  readonly pid: number;
  readonly readings: ProcUsage[];
}

/** The peer: node_exporter on a loopback port, scraped every second by this process. */
interface Peer {
  readonly child: Child;
  readonly url: string;
  lastSeries: number;
  lastBytes: number;
  scrapeMs: number[];
  failures: number;
}

async function startNodeExporter(binary: string): Promise<Peer> {
  const port = await freePort();
  const child = spawnChild(binary, [`--web.listen-address=127.0.0.1:${port}`]);
  const url = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        await res.text();
        break;
      }
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(
          `${binary} did not answer ${url} (${err instanceof Error ? err.message : String(err)}):\n${child.lines.join("\n")}`,
        );
    }
    await sleep(100);
  }
  log(`node_exporter pid ${child.pid} on 127.0.0.1:${port}`);
  return { child, url, lastSeries: 0, lastBytes: 0, scrapeMs: [], failures: 0 };
}

/** Scrapes the peer once (what Prometheus would do), counting what it exposes. */
async function scrape(peer: Peer): Promise<void> {
  const started = performance.now();
  try {
    const res = await fetch(peer.url, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    peer.scrapeMs.push(performance.now() - started);
    peer.lastSeries = countExposedSeries(text);
    peer.lastBytes = Buffer.byteLength(text);
  } catch (err) {
    peer.failures++;
    log(`scrape of node_exporter failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Writes the agent config: every default-enabled collector at a 1 s interval. */
function writeAgentConfig(
  dir: string,
  grpcAddress: string,
  agentId: string,
): { file: string; collectors: string[] } {
  const collectors = builtinCollectors()
    .filter((r) => r.defaultEnabled)
    .map((r) => r.name);
  const file = join(dir, `${agentId}.toml`);
  writeFileSync(
    file,
    [
      `agent_id = "${agentId}"`,
      `server = "${grpcAddress}"`,
      `api_key_file = "${agentId}.key"`,
      ...collectors.map((name) => `[collectors.${name}]\ninterval = "1s"`),
      "",
    ].join("\n"),
  );
  return { file, collectors };
}

/**
 * Series the agent sends, from the server's `GET /api/v1/agents/:id/latest` (the newest sample of every
 * series it ever sent): `perTick` in the newest 1 s tick, `recent` with a sample in the last 11 s (the
 * 10 s self-metrics and top-N processes that just left the lists included), `all` ever.
 */
async function agentSeries(
  httpListen: string,
  token: string,
  endMs: number,
): Promise<{ recent: number; perTick: number; all: number }> {
  const res = await fetch(`http://${httpListen}/api/v1/agents/${AGENT_ID}/latest`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok)
    throw new Error(`GET /api/v1/agents/${AGENT_ID}/latest: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { samples: { ts: number }[] };
  const newest = Math.max(...body.samples.map((s) => s.ts));
  return {
    recent: body.samples.filter((s) => s.ts >= endMs - 11_000).length,
    perTick: body.samples.filter((s) => s.ts === newest).length,
    all: body.samples.length,
  };
}

installCleanupHooks(BENCHMARK, HARD_LIMIT_MS);
const tmp = mkdtempSync(join(tmpdir(), "vigil-bench-agent-"));
onCleanup(() => rmSync(tmp, { recursive: true, force: true }));

const nodeExporterBin = findNodeExporter();
if (nodeExporterBin === undefined)
  log(
    "prometheus-node-exporter is not installed, so there is no peer this run (agent and floor figures only); " +
      "install the Debian package `prometheus-node-exporter` (apt-get install prometheus-node-exporter) to compare",
  );

log("building the agent bundle (packages/agent/scripts/bundle.mjs)");
const bundle = join(tmp, "vigil-agent.js");
await runToEnd(process.execPath, [BUNDLE_SCRIPT, bundle]);

const server = await startServer({ dataDir: join(tmp, "data"), log });
const httpListen = server.env.VIGIL_HTTP_LISTEN ?? "";
const token = await runToEnd(
  process.execPath,
  [SERVER_BIN, "token", "create", "--name", "bench-agent", "--role", "viewer"],
  { ...process.env, ...server.env },
);
/** Writes the config of `agentId`, enrols it with a one-time token and starts it with `env`. */
async function startAgent(
  agentId: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: Child; collectors: string[] }> {
  const config = writeAgentConfig(tmp, server.grpcAddress, agentId);
  const token = await server.createEnrollToken();
  await runToEnd(process.execPath, [bundle, "enroll", "--config", config.file, "--token", token]);
  const child = spawnChild(process.execPath, [...AGENT_NODE_FLAGS, bundle, "--config", config.file], env);
  await child.waitForLine((l) => l.includes('"msg":"connected to server"'), 20_000);
  return { child, collectors: config.collectors };
}
// The agent as deploy/systemd/vigil-agent.service, Dockerfile.agent and `npm start` run it: with
// AGENT_PROCESS_ENV. A second one runs without it, as a bare `node vigil-agent.js` would.
const { child: agent, collectors } = await startAgent(AGENT_ID, { ...process.env, ...AGENT_PROCESS_ENV });
const { child: plainAgent } = await startAgent(PLAIN_AGENT_ID, process.env);
log(
  `agent pid ${agent.pid} (and pid ${plainAgent.pid} without AGENT_PROCESS_ENV) streaming (${collectors.join(", ")} at 1 s)`,
);

const peer = nodeExporterBin === undefined ? undefined : await startNodeExporter(nodeExporterBin);
const floor = spawnChild(process.execPath, ["-e", "setInterval(()=>{},1000)"]);

const watched: Watched[] = [
  { label: "agent", pid: agent.pid, readings: [] },
  { label: "agent_plain", pid: plainAgent.pid, readings: [] },
  { label: "floor", pid: floor.pid, readings: [] },
];
if (peer) watched.push({ label: "node_exporter", pid: peer.child.pid, readings: [] });

log(`warming up ${WARMUP_SECONDS} s, then measuring ${SECONDS} s`);
const startedMs = Date.now();
const totalTicks = WARMUP_SECONDS + SECONDS;
for (let tick = 0; tick <= totalTicks; tick++) {
  // Scrape at every whole second, as a 1 s scrape interval would, then read /proc.
  await sleep(Math.max(0, startedMs + tick * 1000 - Date.now()));
  if (peer) await scrape(peer);
  if (tick < WARMUP_SECONDS) continue;
  for (const w of watched) w.readings.push(readProcUsage(w.pid));
}
const endMs = Date.now();

const series = await agentSeries(httpListen, token, endMs);
const stoppedLine = agent.waitForLine((l) => l.includes('"msg":"vigil-agent stopped"'), 20_000);
const agentExit = await agent.stop("SIGTERM", 15_000);
const plainAgentExit = await plainAgent.stop("SIGTERM", 15_000);
const stopped = JSON.parse(await stoppedLine) as { acked?: number; dropped?: number };
await peer?.child.stop("SIGTERM", 5_000);
await floor.stop("SIGTERM", 5_000);
const serverExit = await server.stop();
if (agentExit !== 0) throw new Error(`vigil-agent exited with ${agentExit}`);
if (plainAgentExit !== 0)
  throw new Error(`vigil-agent (without AGENT_PROCESS_ENV) exited with ${plainAgentExit}`);
if (serverExit !== 0) throw new Error(`vigil-server exited with ${serverExit}`);

/** CPU % over the timed window and RSS statistics of one watched process. */
function usage(label: string): { cpu: number; rssMax: number; rssMedian: number; rssMin: number } {
  const w = watched.find((x) => x.label === label);
  const first = w?.readings[0];
  const last = w?.readings.at(-1);
  if (!w || !first || !last) throw new Error(`no readings of ${label}`);
  const rss = w.readings.map((r) => r.rssBytes / MIB);
  return {
    cpu: cpuPercent(first, last, SECONDS),
    rssMax: Math.max(...rss),
    rssMedian: median(rss),
    rssMin: Math.min(...rss),
  };
}

const common = {
  seconds: SECONDS,
  warmup_seconds: WARMUP_SECONDS,
  interval_s: 1,
  ...(AGENT_NODE_FLAGS.length > 0 ? { agent_node_flags: AGENT_NODE_FLAGS.join(" ") } : {}),
};
const a = usage("agent");
const p = usage("agent_plain");
const f = usage("floor");
const processEnv = Object.entries(AGENT_PROCESS_ENV)
  .map(([k, v]) => `${k}=${v}`)
  .join(" ");
emitFigure({
  name: "agent.rss_mb",
  value: significant(a.rssMax, 3),
  unit: "MiB",
  median: significant(a.rssMedian, 3),
  min: significant(a.rssMin, 3),
  goal_max: GOAL_AGENT_RSS_MIB,
  meets_goal: a.rssMax <= GOAL_AGENT_RSS_MIB,
  env: processEnv,
  ...common,
});
emitFigure({
  name: "agent.cpu_percent",
  value: significant(a.cpu, 3),
  unit: "%",
  env: processEnv,
  ...common,
});
// The same agent without AGENT_PROCESS_ENV: what `node vigil-agent.js` run by hand costs.
emitFigure({
  name: "agent.rss_mb_without_process_env",
  value: significant(p.rssMax, 3),
  unit: "MiB",
  median: significant(p.rssMedian, 3),
  min: significant(p.rssMin, 3),
  ...common,
});
emitFigure({
  name: "agent.cpu_percent_without_process_env",
  value: significant(p.cpu, 3),
  unit: "%",
  ...common,
});
emitFigure({
  name: "agent.idle_node_rss_mb",
  value: significant(f.rssMax, 3),
  unit: "MiB",
  median: significant(f.rssMedian, 3),
  ...common,
});
emitFigure({ name: "agent.idle_node_cpu_percent", value: significant(f.cpu, 3), unit: "%", ...common });
emitFigure({
  name: "agent.series",
  value: series.perTick,
  unit: "series",
  last_11s: series.recent,
  ever: series.all,
  acked_samples: stopped.acked ?? -1,
  dropped_samples: stopped.dropped ?? -1,
  collectors: collectors.join(","),
  ...common,
});
if (peer) {
  const n = usage("node_exporter");
  emitFigure({
    name: "agent.node_exporter_rss_mb",
    value: significant(n.rssMax, 3),
    unit: "MiB",
    median: significant(n.rssMedian, 3),
    min: significant(n.rssMin, 3),
    ...common,
  });
  emitFigure({
    name: "agent.node_exporter_cpu_percent",
    value: significant(n.cpu, 3),
    unit: "%",
    scrapes: peer.scrapeMs.length,
    scrape_failures: peer.failures,
    scrape_median_ms: significant(median(peer.scrapeMs), 3),
    ...common,
  });
  emitFigure({
    name: "agent.node_exporter_series",
    value: peer.lastSeries,
    unit: "series",
    scrape_bytes: peer.lastBytes,
    ...common,
  });
  emitFigure({
    name: "agent.cpu_vs_node_exporter_ratio",
    value: n.cpu > 0 ? significant(a.cpu / n.cpu, 3) : -1,
    unit: "ratio",
    meets_goal: a.cpu <= n.cpu,
    ...common,
  });
}
log(`done in ${Math.round((Date.now() - startedMs) / 1000)} s`);
