import fs from "node:fs";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import { createNetworkCollector, NETWORK_METRICS, NETWORK_OPTIONS, parseNetDev } from "./network.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
const HEADER =
  "Inter-|   Receive                                                |  Transmit\n" +
  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

const fixture = (...scenario: string[]) => new ProcFs(fixtureProcRoot(...scenario));

function sampleValue(samples: readonly Sample[], metric: string, labels: Record<string, string>): number {
  const found = samples.filter(
    (s) => s.metric === metric && JSON.stringify(s.labels) === JSON.stringify(labels),
  );
  expect(found, `${metric}${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]?.value ?? Number.NaN;
}

const interfacesOf = (samples: readonly Sample[]) => [...new Set(samples.map((s) => s.labels.interface))];

/** A net/dev line whose 16 counters are `base + k` for column k (so every column differs). */
const devLine = (name: string, base: number) =>
  `${name.padStart(6)}: ${Array.from({ length: 16 }, (_, k) => base + k).join(" ")}\n`;

describe("parseNetDev", () => {
  it("reads this machine's recorded net/dev", () => {
    const text = fs.readFileSync(`${fixtureProcRoot("this-machine", "t0")}/net/dev`, "utf8");
    const { interfaces, issues } = parseNetDev(text);
    expect(issues).toEqual([]);
    expect(interfaces.map((i) => i.name)).toEqual(["lo", "ifb0", "ifb1", "eth0"]);
    // eth0: 508685505   19175    0    0    0     0          0         0  1215582   11686    0    0    0     0       0          0
    expect(interfaces[3]).toMatchObject({
      name: "eth0",
      receiveBytes: 508685505,
      receivePackets: 19175,
      receiveErrors: 0,
      transmitBytes: 1215582,
      transmitPackets: 11686,
      transmitCompressed: 0,
    });
  });

  it("reads every column in order, and a name glued to its first counter (old kernels)", () => {
    const { interfaces, issues } = parseNetDev(
      `${HEADER}  eth0:${Array.from({ length: 16 }, (_, k) => k + 1).join(" ")}\n`,
    );
    expect(issues).toEqual([]);
    expect(interfaces[0]).toEqual({
      name: "eth0",
      receiveBytes: 1,
      receivePackets: 2,
      receiveErrors: 3,
      receiveDrops: 4,
      receiveFifo: 5,
      receiveFrame: 6,
      receiveCompressed: 7,
      receiveMulticast: 8,
      transmitBytes: 9,
      transmitPackets: 10,
      transmitErrors: 11,
      transmitDrops: 12,
      transmitFifo: 13,
      transmitCollisions: 14,
      transmitCarrier: 15,
      transmitCompressed: 16,
    });
  });

  it("skips malformed lines, one issue each, and keeps the rest", () => {
    const { interfaces, issues } = parseNetDev(
      HEADER +
        devLine("eth0", 1) +
        "  eth1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n" + // no colon
        "  eth2: 1 2 3\n" + // too few
        "  eth3: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n" + // not a number
        devLine("eth0", 100) + // a second eth0
        devLine("wg0", 1).trimEnd(), // truncated read
    );
    expect(interfaces.map((i) => i.name)).toEqual(["eth0"]);
    expect(interfaces[0]?.receiveBytes).toBe(1);
    expect(issues.map((i) => i.line)).toEqual([8, 4, 5, 6, 7]);
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseNetDev(text)));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        (bytes) => void parseNetDev(Buffer.from(bytes).toString()),
      ),
    );
    const token = fc.oneof(
      fc.constantFrom("eth0:", ":", "|", "lo", "-1", "99999999999999999999"),
      fc.nat().map(String),
    );
    const line = fc.array(token, { maxLength: 20 }).map((t) => t.join(" "));
    fc.assert(fc.property(fc.array(line, { maxLength: 6 }), (lines) => void parseNetDev(lines.join("\n"))));
  });
});

describe("network collector over recorded readings", () => {
  it("computes this machine's rates by hand, lo excluded by default", async () => {
    const network = createNetworkCollector();
    expect(await network.collect(context(fixture("this-machine", "t0"), T0))).toEqual([]);
    const samples = await network.collect(context(fixture("this-machine", "t1"), T0 + 1_000));
    expect(interfacesOf(samples)).toEqual(["ifb0", "ifb1", "eth0"]);
    expect(samples).toHaveLength(3 * 8);
    // eth0 did not move in that second: every rate is 0.
    expect(samples.filter((s) => s.labels.interface === "eth0").every((s) => s.value === 0)).toBe(true);
    expect(samples.every((s) => s.ts === T0 + 1_000)).toBe(true);
  });

  it("measures loopback when asked (a curl loop ran between the readings)", async () => {
    const network = createNetworkCollector(
      NETWORK_OPTIONS.parse({ include_interfaces: ["lo"], exclude_interfaces: [] }),
    );
    await network.collect(context(fixture("this-machine", "t0"), T0));
    const samples = await network.collect(context(fixture("this-machine", "t1"), T0 + 2_000));
    // lo, recorded 1 s apart but stamped 2 s apart here to check the division:
    //   bytes 243612433 → 288812190 (+45199757) both ways, packets 36514 → 38464 (+1950)
    expect(interfacesOf(samples)).toEqual(["lo"]);
    const lo = { interface: "lo" };
    expect(sampleValue(samples, "network_receive_bytes_per_second", lo)).toBe(45199757 / 2);
    expect(sampleValue(samples, "network_transmit_bytes_per_second", lo)).toBe(45199757 / 2);
    expect(sampleValue(samples, "network_receive_packets_per_second", lo)).toBe(975);
    expect(sampleValue(samples, "network_transmit_packets_per_second", lo)).toBe(975);
    expect(sampleValue(samples, "network_errors_per_second", { interface: "lo", direction: "receive" })).toBe(
      0,
    );
  });

  it("splits errors and drops by direction", async () => {
    const proc = new StubProcFs({ "net/dev": HEADER + devLine("eth0", 1000) });
    const network = createNetworkCollector();
    await network.collect(context(proc, T0));
    proc.set("net/dev", HEADER + devLine("eth0", 1000).replace(/\d+/g, (n) => String(Number(n) * 2)));
    const samples = await network.collect(context(proc, T0 + 4_000));
    // every column k doubled: delta = 1000 + k, over 4 s.
    // receive errs is column 2, receive drop 3, transmit errs 10, transmit drop 11 (the 0 of "eth0" stays 0).
    const eth0 = (direction: string) => ({ interface: "eth0", direction });
    expect(sampleValue(samples, "network_errors_per_second", eth0("receive"))).toBe(1002 / 4);
    expect(sampleValue(samples, "network_drops_per_second", eth0("receive"))).toBe(1003 / 4);
    expect(sampleValue(samples, "network_errors_per_second", eth0("transmit"))).toBe(1010 / 4);
    expect(sampleValue(samples, "network_drops_per_second", eth0("transmit"))).toBe(1011 / 4);
    expect(sampleValue(samples, "network_receive_bytes_per_second", { interface: "eth0" })).toBe(1000 / 4);
    expect(sampleValue(samples, "network_transmit_packets_per_second", { interface: "eth0" })).toBe(1009 / 4);
  });

  it("honours include/exclude globs", async () => {
    const proc = new StubProcFs({
      "net/dev": HEADER + ["lo", "eth0", "eth1", "docker0", "veth1a2b"].map((n) => devLine(n, 1)).join(""),
    });
    const network = createNetworkCollector(
      NETWORK_OPTIONS.parse({ include_interfaces: ["eth*", "veth*"], exclude_interfaces: ["eth1"] }),
    );
    await network.collect(context(proc, T0));
    expect(interfacesOf(await network.collect(context(proc, T0 + 1_000)))).toEqual(["eth0", "veth1a2b"]);
  });

  it("emits only the names and labels it declares", async () => {
    const network = createNetworkCollector(NETWORK_OPTIONS.parse({ exclude_interfaces: [] }));
    await network.collect(context(fixture("this-machine", "t0"), T0));
    for (const s of await network.collect(context(fixture("this-machine", "t1"), T0 + 1_000))) {
      const declared = NETWORK_METRICS.find((m) => m.name === s.metric);
      expect(declared, s.metric).toBeDefined();
      expect(Object.keys(s.labels)).toEqual(declared?.labels);
    }
  });
});

describe("network collector edge cases and tolerance", () => {
  it("treats a 32-bit wrap like a reset: skips that interface one tick, then re-bases", async () => {
    const wrapping = 2 ** 32 - 1000;
    const proc = new StubProcFs({ "net/dev": HEADER + devLine("eth0", wrapping) + devLine("eth1", 10) });
    const network = createNetworkCollector();
    await network.collect(context(proc, T0));
    // eth0's counters passed 2^32 and wrapped to small numbers; eth1 went on (+10 each).
    proc.set("net/dev", HEADER + devLine("eth0", 500) + devLine("eth1", 20));
    expect(interfacesOf(await network.collect(context(proc, T0 + 1_000)))).toEqual(["eth1"]);
    proc.set("net/dev", HEADER + devLine("eth0", 1500) + devLine("eth1", 30));
    const samples = await network.collect(context(proc, T0 + 2_000));
    expect(sampleValue(samples, "network_receive_bytes_per_second", { interface: "eth0" })).toBe(1000);
  });

  it("starts an interface over after it disappeared for a reading", async () => {
    const proc = new StubProcFs({ "net/dev": HEADER + devLine("eth0", 10) + devLine("tun0", 10) });
    const network = createNetworkCollector();
    await network.collect(context(proc, T0));
    proc.set("net/dev", HEADER + devLine("eth0", 20));
    await network.collect(context(proc, T0 + 1_000));
    proc.set("net/dev", HEADER + devLine("eth0", 30) + devLine("tun0", 90));
    expect(interfacesOf(await network.collect(context(proc, T0 + 2_000)))).toEqual(["eth0"]);
  });

  it("warns once, naming the file, when net/dev is missing or unreadable", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ "net/dev": { error: "EACCES" } });
    const network = createNetworkCollector();
    expect(await network.collect(context(proc, T0, log.logger))).toEqual([]);
    expect(await network.collect(context(proc, T0 + 1_000, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("net/dev"));
    expect(log.warnings()[0]?.msg).toMatch(/EACCES.*user allowed to read it/);
  });

  it("uses the good lines of a truncated file and warns once", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ "net/dev": HEADER + devLine("eth0", 10) + devLine("eth1", 10) });
    const network = createNetworkCollector();
    await network.collect(context(proc, T0, log.logger));
    proc.set("net/dev", `${HEADER}${devLine("eth0", 20)}  eth1: 20 21 2`);
    expect(interfacesOf(await network.collect(context(proc, T0 + 1_000, log.logger)))).toEqual(["eth0"]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("truncated");
  });

  it("never throws and emits only finite, non-negative rates, whatever the file says", async () => {
    const counters = fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 16, maxLength: 16 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string(),
            counters.map((c) => `${HEADER}eth0: ${c.join(" ")}\n`),
          ),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        async (texts) => {
          const proc = new StubProcFs({});
          const network = createNetworkCollector();
          for (const [i, text] of texts.entries()) {
            proc.set("net/dev", text);
            for (const s of await network.collect(context(proc, T0 + i * 1_000))) {
              expect(Number.isFinite(s.value)).toBe(true);
              expect(s.value).toBeGreaterThanOrEqual(0);
            }
          }
        },
      ),
    );
  });
});
