import type { MetricDescriptor, Sample } from "@vigil/common";
import * as z from "zod";
import type { CollectContext, Collector } from "./collector.js";
import { CounterDeltas } from "./counter-delta.js";
import { createNameFilter } from "./name-filter.js";
import { parseIssuesProblem, readProcFile } from "./proc-problems.js";
import { completeLines, type ParseIssue, parseCount, parseIssue } from "./proc-text.js";
import { type CollectProblem, WarningLatch } from "./warning-latch.js";

/** The 16 counters of a procfs `net/dev` line, in the kernel's column order. */
export const NET_DEV_FIELDS = [
  "receiveBytes",
  "receivePackets",
  "receiveErrors",
  "receiveDrops",
  "receiveFifo",
  "receiveFrame",
  "receiveCompressed",
  "receiveMulticast",
  "transmitBytes",
  "transmitPackets",
  "transmitErrors",
  "transmitDrops",
  "transmitFifo",
  "transmitCollisions",
  "transmitCarrier",
  "transmitCompressed",
] as const;
export type NetDevField = (typeof NET_DEV_FIELDS)[number];

/** One interface's line of the procfs `net/dev` file: counters since the interface was created. */
export type NetDevInterface = { readonly name: string } & { readonly [F in NetDevField]: number };

/** What {@link parseNetDev} understood of the file. */
export interface NetDev {
  /** In file order. */
  readonly interfaces: readonly NetDevInterface[];
  /** Lines skipped as malformed. */
  readonly issues: readonly ParseIssue[];
}

/**
 * Parses the text of the procfs `net/dev` file. Pure, never throws. After two header lines (the
 * ones with `|`), each line is `name: ` and 16 counters. The name ends at the first `:` (the
 * kernel refuses `:` in interface names) and may touch the first counter on old kernels
 * (`eth0:1234`), so the line is split at the colon, not at whitespace.
 */
export function parseNetDev(text: string): NetDev {
  const { lines, issues } = completeLines(text);
  const interfaces: NetDevInterface[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "" || line.includes("|")) continue;
    const colon = line.indexOf(":");
    const name = colon === -1 ? "" : line.slice(0, colon).trim();
    if (name === "" || /\s/.test(name)) {
      issues.push(parseIssue(i + 1, line, 'no "name:" at the start'));
      continue;
    }
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (fields.length < NET_DEV_FIELDS.length) {
      issues.push(parseIssue(i + 1, line, `${fields.length} counters, ${NET_DEV_FIELDS.length} expected`));
      continue;
    }
    const values = fields.slice(0, NET_DEV_FIELDS.length).map(parseCount);
    const bad = values.indexOf(undefined);
    if (bad !== -1) {
      issues.push(parseIssue(i + 1, line, `"${fields[bad]}" is not a counter`));
      continue;
    }
    if (seen.has(name)) {
      issues.push(parseIssue(i + 1, line, `second line for ${name}`));
      continue;
    }
    seen.add(name);
    const entry: Record<string, number | string> = { name };
    NET_DEV_FIELDS.forEach((field, k) => {
      entry[field] = values[k] as number;
    });
    interfaces.push(entry as NetDevInterface);
  }
  return { interfaces, issues };
}

/** The `[collectors.network]` options. */
export const NETWORK_OPTIONS = z.strictObject({
  include_interfaces: z.array(z.string().min(1)).default(["*"]),
  exclude_interfaces: z.array(z.string().min(1)).default(["lo"]),
});
export type NetworkOptions = z.output<typeof NETWORK_OPTIONS>;

const SOURCE = "/proc/net/dev";

/** The metrics the `network` collector emits. */
export const NETWORK_METRICS: readonly MetricDescriptor[] = [
  {
    name: "network_receive_bytes_per_second",
    type: "gauge",
    unit: "bytes/s",
    help: "Bytes received per second since the previous reading.",
    labels: ["interface"],
    source: SOURCE,
    nodeExporter: "node_network_receive_bytes_total",
  },
  {
    name: "network_transmit_bytes_per_second",
    type: "gauge",
    unit: "bytes/s",
    help: "Bytes sent per second since the previous reading.",
    labels: ["interface"],
    source: SOURCE,
    nodeExporter: "node_network_transmit_bytes_total",
  },
  {
    name: "network_receive_packets_per_second",
    type: "gauge",
    unit: "1/s",
    help: "Packets received per second since the previous reading.",
    labels: ["interface"],
    source: SOURCE,
    nodeExporter: "node_network_receive_packets_total",
  },
  {
    name: "network_transmit_packets_per_second",
    type: "gauge",
    unit: "1/s",
    help: "Packets sent per second since the previous reading.",
    labels: ["interface"],
    source: SOURCE,
    nodeExporter: "node_network_transmit_packets_total",
  },
  {
    name: "network_errors_per_second",
    type: "gauge",
    unit: "1/s",
    help: 'Packets with errors per second since the previous reading (the errs column), by direction ("receive" or "transmit").',
    labels: ["interface", "direction"],
    source: SOURCE,
    nodeExporter: "node_network_receive_errs_total, node_network_transmit_errs_total",
  },
  {
    name: "network_drops_per_second",
    type: "gauge",
    unit: "1/s",
    help: 'Packets dropped per second since the previous reading (the drop column), by direction ("receive" or "transmit").',
    labels: ["interface", "direction"],
    source: SOURCE,
    nodeExporter: "node_network_receive_drop_total, node_network_transmit_drop_total",
  },
];

/** The counters rates are computed from, in the order they are handed to CounterDeltas. */
const RATE_FIELDS = [
  "receiveBytes",
  "transmitBytes",
  "receivePackets",
  "transmitPackets",
  "receiveErrors",
  "transmitErrors",
  "receiveDrops",
  "transmitDrops",
] as const satisfies readonly NetDevField[];

/**
 * Creates the `network` collector: per-interface traffic, packets, errors and drops, as rates
 * between two consecutive readings of the procfs `net/dev` file. The first reading emits nothing.
 *
 * Counters that go down reset the interface's base and emit nothing for it that tick. That covers
 * a driver reload or an interface re-created under the same name, and also 32-bit counters
 * wrapping (32-bit kernels keep `unsigned long` counters; at 1 Gbit/s the byte counters wrap every
 * ~34 s): a wrap cannot be told from a reset by the numbers alone (the kernel does not say how
 * wide its counters are, and a new interface may start anywhere below the old value), so one tick
 * is lost rather than a guessed rate reported. On 32-bit kernels, collect more often than the
 * fastest wrap, or the rates silently undercount.
 */
export function createNetworkCollector(given: Partial<NetworkOptions> = {}): Collector {
  // Missing keys take their defaults, so `create({})` and partial options in tests work too.
  const options: NetworkOptions = { ...NETWORK_OPTIONS.parse({}), ...given };
  const isSelected = createNameFilter(options.include_interfaces, options.exclude_interfaces);
  const deltas = new CounterDeltas();
  const warnings = new WarningLatch();

  async function collect(ctx: CollectContext): Promise<Sample[]> {
    const problems: CollectProblem[] = [];
    const samples: Sample[] = [];
    const text = readProcFile(ctx.proc, "net/dev", "network metrics", problems);
    if (text !== undefined) {
      const netDev = parseNetDev(text);
      if (netDev.issues.length > 0) {
        problems.push(
          parseIssuesProblem(
            ctx.proc,
            "net/dev",
            netDev.issues,
            "interfaces on those lines are skipped this tick",
          ),
        );
      }
      for (const iface of netDev.interfaces) {
        if (!isSelected(iface.name)) continue;
        const delta = deltas.next(
          iface.name,
          RATE_FIELDS.map((field) => iface[field]),
          ctx.now,
        );
        if (delta === undefined || delta.elapsedMs <= 0) continue;
        const seconds = delta.elapsedMs / 1000;
        const [
          rxBytes = 0,
          txBytes = 0,
          rxPackets = 0,
          txPackets = 0,
          rxErrs = 0,
          txErrs = 0,
          rxDrop = 0,
          txDrop = 0,
        ] = delta.deltas;
        const emit = (metric: string, value: number, direction?: "receive" | "transmit") =>
          samples.push({
            metric,
            labels:
              direction === undefined ? { interface: iface.name } : { interface: iface.name, direction },
            value: value / seconds,
            ts: ctx.now,
          });
        emit("network_receive_bytes_per_second", rxBytes);
        emit("network_transmit_bytes_per_second", txBytes);
        emit("network_receive_packets_per_second", rxPackets);
        emit("network_transmit_packets_per_second", txPackets);
        emit("network_errors_per_second", rxErrs, "receive");
        emit("network_errors_per_second", txErrs, "transmit");
        emit("network_drops_per_second", rxDrop, "receive");
        emit("network_drops_per_second", txDrop, "transmit");
      }
      deltas.sweep();
    }
    warnings.settle(ctx.logger, problems);
    return samples;
  }

  return { name: "network", metrics: NETWORK_METRICS, collect };
}
