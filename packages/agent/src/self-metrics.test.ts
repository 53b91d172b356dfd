import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { ProcFs } from "@vigil/collectors";
import { createLogger, METRIC_NAME_RE, type Sample } from "@vigil/common";
import { describe, expect, it } from "vitest";
import { BatchQueue } from "./batch-queue.js";
import { createSelfCollector, processUsage, SELF_METRICS } from "./self-metrics.js";

const proc = new ProcFs(tmpdir());
const logger = createLogger({ name: "test", level: "silent" });
const collect = (c: ReturnType<typeof createSelfCollector>, now: number) =>
  c.collect({ now, proc, sys: proc, logger });
const byName = (samples: Sample[]) =>
  Object.fromEntries(
    samples.map((s) => [s.labels.collector ? `${s.metric}{${s.labels.collector}}` : s.metric, s.value]),
  );

describe("createSelfCollector", () => {
  it("reports the process, the buffer, the stream and each collector's last outcome", async () => {
    const clock = { cpu: 1_000_000, ms: 50_000 };
    const queue = new BatchQueue(1_000, 10);
    queue.add(Array.from({ length: 250 }, (_, i) => ({ metric: "m", labels: {}, value: i, ts: i })));
    const c = createSelfCollector(
      {
        queue: () => queue.stats(),
        bufferMaxSamples: () => 1_000,
        resentBatches: () => 3,
        reconnects: () => 2,
        collectorSuccess: () =>
          new Map([
            ["cpu", true],
            ["gpu", false],
            ["agent", true],
          ]),
      },
      { rssBytes: () => 42_000_000, cpuMicros: () => clock.cpu, monotonicMs: () => clock.ms },
    );
    // 10 s later the process has used 0.5 s of CPU: 5 % of a core.
    clock.cpu += 500_000;
    clock.ms += 10_000;
    const samples = await collect(c, 1_700_000_010_000);
    expect(samples.every((s) => s.ts === 1_700_000_010_000)).toBe(true);
    expect(byName(samples)).toEqual({
      agent_rss_bytes: 42_000_000,
      agent_cpu_percent: 5,
      agent_buffer_samples: 250,
      agent_buffer_fill_percent: 25,
      agent_samples_dropped_total: 0,
      agent_batches_resent_total: 3,
      agent_reconnects_total: 2,
      "vigil_collector_success{cpu}": 1,
      "vigil_collector_success{gpu}": 0,
    });
    // The next report measures CPU from this one: idle in between is 0 %.
    clock.ms += 10_000;
    expect(byName(await collect(c, 1_700_000_020_000)).agent_cpu_percent).toBe(0);
  });

  it("every sample it emits is declared, and the declared names are valid", async () => {
    const c = createSelfCollector({
      queue: () => new BatchQueue(1_000, 10).stats(),
      bufferMaxSamples: () => 1_000,
      resentBatches: () => 0,
      reconnects: () => 0,
      collectorSuccess: () => new Map([["cpu", true]]),
    });
    await new Promise((r) => setTimeout(r, 5));
    const declared = new Set(c.metrics.map((m) => m.name));
    for (const s of await collect(c, 1)) expect(declared).toContain(s.metric);
    for (const m of SELF_METRICS) expect(m.name).toMatch(METRIC_NAME_RE);
  });

  it("reads real figures from this process", () => {
    expect(processUsage.rssBytes()).toBeGreaterThan(1_000_000);
    expect(processUsage.cpuMicros()).toBeGreaterThan(0);
  });

  it("docs/metrics.md lists every self-metric in its agent section", () => {
    const doc = readFileSync(fileURLToPath(new URL("../../../docs/metrics.md", import.meta.url)), "utf8");
    const section = doc.slice(doc.indexOf("\n## agent\n"));
    expect(section.length).toBeGreaterThan(0);
    for (const m of SELF_METRICS) expect(section, m.name).toContain(`| \`${m.name}\``);
  });
});

describe("BatchQueue resend count and limits", () => {
  const samples = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ metric: "m", labels: {}, value: i, ts: i }));

  it("counts a batch written a second time as resent", () => {
    const q = new BatchQueue(1_000, 2);
    q.add(samples(4));
    q.seal();
    for (const b of q.takeUnsent(10)) q.markSent(b);
    expect(q.resentBatches).toBe(0);
    q.requeueInFlight();
    for (const b of q.takeUnsent(10)) q.markSent(b);
    expect(q.resentBatches).toBe(2);
    expect(q.inFlightCount).toBe(2);
  });

  it("setLimits with a smaller bound drops the oldest at once", () => {
    const q = new BatchQueue(10_000, 100);
    q.add(samples(3_000));
    q.setLimits(1_000, 100);
    expect(q.stats()).toMatchObject({ held: 1_000, dropped: 2_000 });
  });
});
