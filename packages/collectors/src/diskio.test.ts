import fs from "node:fs";
import path from "node:path";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import {
  createDiskioCollector,
  DISKIO_METRICS,
  DISKIO_OPTIONS,
  isPartition,
  parseDiskstats,
} from "./diskio.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;

function fixture(...scenario: string[]): { proc: ProcFs; sys: ProcFs } {
  const procRoot = fixtureProcRoot(...scenario);
  return { proc: new ProcFs(procRoot), sys: new ProcFs(path.join(path.dirname(procRoot), "sys")) };
}

function context(
  roots: { proc: ProcFs; sys: ProcFs },
  now: number,
  logger = captureLogger().logger,
): CollectContext {
  return { now, proc: roots.proc, sys: roots.sys, logger };
}

function sampleValue(samples: readonly Sample[], metric: string, labels: Record<string, string>): number {
  const found = samples.filter(
    (s) => s.metric === metric && JSON.stringify(s.labels) === JSON.stringify(labels),
  );
  expect(found, `${metric}${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]?.value ?? Number.NaN;
}

const devicesOf = (samples: readonly Sample[]) => [...new Set(samples.map((s) => s.labels.device))];

describe("parseDiskstats", () => {
  it("reads this machine's recorded diskstats (17 counters, Linux 6.18)", () => {
    const text = fs.readFileSync(`${fixtureProcRoot("this-machine", "t0")}/diskstats`, "utf8");
    const { disks, issues } = parseDiskstats(text);
    expect(issues).toEqual([]);
    expect(disks.map((d) => d.device)).toEqual([
      "loop0",
      "loop1",
      "loop2",
      "loop3",
      "loop4",
      "loop5",
      "loop6",
      "loop7",
      "vda",
      "zram0",
    ]);
    // 254 0 vda 59866 9289 4260634 34260 3603389 38308 143243848 3710942 2 139816 3818642 19018 30 3131368 5342 35707 68096
    expect(disks[8]).toEqual({
      major: 254,
      minor: 0,
      device: "vda",
      readsCompleted: 59866,
      readsMerged: 9289,
      sectorsRead: 4260634,
      readTimeMs: 34260,
      writesCompleted: 3603389,
      writesMerged: 38308,
      sectorsWritten: 143243848,
      writeTimeMs: 3710942,
      ioInProgress: 2,
      ioTimeMs: 139816,
      weightedIoTimeMs: 3818642,
    });
  });

  it("reads the 11-counter lines of 2.6 and the 4-counter partition lines before 2.6.25", () => {
    // The examples of the kernel's Documentation/admin-guide/iostats.rst.
    const { disks, issues } = parseDiskstats(
      "   3    0   hda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160\n" +
        "   3    1   hda1 35486 38030 38030 38030\n",
    );
    expect(issues).toEqual([]);
    expect(disks[0]).toMatchObject({ device: "hda", sectorsRead: 9550688, ioTimeMs: 3376340 });
    expect(disks[1]).toEqual({
      major: 3,
      minor: 1,
      device: "hda1",
      readsCompleted: 35486,
      sectorsRead: 38030,
      writesCompleted: 38030,
      sectorsWritten: 38030,
      readsMerged: undefined,
      readTimeMs: undefined,
      writesMerged: undefined,
      writeTimeMs: undefined,
      ioInProgress: undefined,
      ioTimeMs: undefined,
      weightedIoTimeMs: undefined,
    });
  });

  it("skips malformed lines, one issue each, and keeps the rest", () => {
    const { disks, issues } = parseDiskstats(
      [
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11",
        "   8       1 sda1 1 2 3 4 5 6", // 6 counters: neither format
        "   8      16 sdb 1 2 x 4 5 6 7 8 9 10 11", // not a number
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11", // a second sda
        "   8      32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19", // more columns than known: fine
        "",
        "   8      48 sdd 1 2 3 4 5 6 7 8 9 10 1", // cut short by a truncated read
      ].join("\n"),
    );
    expect(disks.map((d) => d.device)).toEqual(["sda", "sdc"]);
    expect(issues.map((i) => i.line)).toEqual([7, 2, 3, 4]);
    expect(issues[0]?.reason).toContain("truncated");
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseDiskstats(text)));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        (bytes) => void parseDiskstats(Buffer.from(bytes).toString()),
      ),
    );
    const token = fc.oneof(
      fc.constantFrom("sda", "8", "0", "-1", "99999999999999999999", "\t", ""),
      fc.nat().map(String),
    );
    const line = fc.array(token, { maxLength: 22 }).map((t) => t.join(" "));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => void parseDiskstats(lines.join("\n"))),
    );
  });
});

describe("isPartition", () => {
  it("asks sysfs: /sys/block/<dev> for disks, /sys/class/block/<dev>/partition for partitions", () => {
    const { sys } = fixture("many-disk", "t0");
    expect(isPartition(sys, "sda")).toBe(false);
    expect(isPartition(sys, "sda2")).toBe(true);
    expect(isPartition(sys, "nvme0n1p1")).toBe(true);
    expect(isPartition(sys, "dm-0")).toBe(false);
    expect(isPartition(sys, "md0")).toBe(false);
  });

  it("falls back on the name when sysfs knows neither (no sysfs in a container)", () => {
    const sys = new StubProcFs({});
    expect(["sda1", "vdb12", "xvda1", "nvme0n1p3", "mmcblk0p1"].map((d) => isPartition(sys, d))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(
      ["sda", "nvme0n1", "dm-0", "md0", "loop0", "mmcblk0", "../etc"].map((d) => isPartition(sys, d)),
    ).toEqual([false, false, false, false, false, false, false]);
  });
});

describe("diskio collector over recorded readings", () => {
  it("computes this machine's vda rates by hand (loop and zram devices are skipped)", async () => {
    const diskio = createDiskioCollector();
    expect(await diskio.collect(context(fixture("this-machine", "t0"), T0))).toEqual([]);
    const samples = await diskio.collect(context(fixture("this-machine", "t1"), T0 + 1_000));
    // vda, 1000 ms apart (a 64 MiB dd with conv=fsync ran in between):
    //   reads 59866 → 60226 (+360), sectors read 4260634 → 4307082 (+46448),
    //   writes 3603389 → 3603408 (+19), sectors written 143243848 → 143374936 (+131088),
    //   io_ticks 139816 → 139872 (+56 ms)
    expect(devicesOf(samples)).toEqual(["vda"]);
    const vda = { device: "vda" };
    expect(sampleValue(samples, "disk_read_bytes_per_second", vda)).toBe(46448 * 512);
    expect(sampleValue(samples, "disk_write_bytes_per_second", vda)).toBe(131088 * 512);
    expect(sampleValue(samples, "disk_reads_per_second", vda)).toBe(360);
    expect(sampleValue(samples, "disk_writes_per_second", vda)).toBe(19);
    expect(sampleValue(samples, "disk_io_time_percent", vda)).toBeCloseTo(5.6, 12);
    expect(samples).toHaveLength(5);
    expect(samples.every((s) => s.ts === T0 + 1_000)).toBe(true);
  });

  it("on many disks, keeps whole disks, dm and md, and skips partitions and loops", async () => {
    const diskio = createDiskioCollector();
    await diskio.collect(context(fixture("many-disk", "t0"), T0));
    const samples = await diskio.collect(context(fixture("many-disk", "t1"), T0 + 2_000));
    expect(devicesOf(samples)).toEqual([
      ..."abcdefghijkl".split("").map((l) => `sd${l}`),
      "nvme0n1",
      "md0",
      "dm-0",
    ]);
    expect(samples).toHaveLength(15 * 5);
    // 2000 ms apart. sda: reads +10, sectors read +2048, writes +20, sectors written +4096, io_ticks +150
    expect(sampleValue(samples, "disk_reads_per_second", { device: "sda" })).toBe(5);
    expect(sampleValue(samples, "disk_read_bytes_per_second", { device: "sda" })).toBe((2048 * 512) / 2);
    expect(sampleValue(samples, "disk_writes_per_second", { device: "sda" })).toBe(10);
    expect(sampleValue(samples, "disk_write_bytes_per_second", { device: "sda" })).toBe((4096 * 512) / 2);
    expect(sampleValue(samples, "disk_io_time_percent", { device: "sda" })).toBe(7.5);
    // sdl: reads +120, sectors read +24576, io_ticks +2010 in 2000 ms (timer jitter) → capped at 100
    expect(sampleValue(samples, "disk_reads_per_second", { device: "sdl" })).toBe(60);
    expect(sampleValue(samples, "disk_read_bytes_per_second", { device: "sdl" })).toBe((24576 * 512) / 2);
    expect(sampleValue(samples, "disk_io_time_percent", { device: "sdl" })).toBe(100);
    // nvme0n1 has hw_sector_size 4096, but diskstats still counts 512-byte sectors:
    // sectors read +262144 → 128 MiB in 2 s; sectors written +65536; reads +1000; writes +500; io_ticks +400
    expect(sampleValue(samples, "disk_read_bytes_per_second", { device: "nvme0n1" })).toBe(64 * 1024 * 1024);
    expect(sampleValue(samples, "disk_write_bytes_per_second", { device: "nvme0n1" })).toBe(16 * 1024 * 1024);
    expect(sampleValue(samples, "disk_reads_per_second", { device: "nvme0n1" })).toBe(500);
    expect(sampleValue(samples, "disk_writes_per_second", { device: "nvme0n1" })).toBe(250);
    expect(sampleValue(samples, "disk_io_time_percent", { device: "nvme0n1" })).toBe(20);
    // dm-0: reads +300, sectors read +8192, writes +1200, sectors written +81920, io_ticks +1000
    expect(sampleValue(samples, "disk_read_bytes_per_second", { device: "dm-0" })).toBe((8192 * 512) / 2);
    expect(sampleValue(samples, "disk_write_bytes_per_second", { device: "dm-0" })).toBe((81920 * 512) / 2);
    expect(sampleValue(samples, "disk_io_time_percent", { device: "dm-0" })).toBe(50);
    // md0 reports no io_ticks (always 0): reads +100, sectors written +24000
    expect(sampleValue(samples, "disk_reads_per_second", { device: "md0" })).toBe(50);
    expect(sampleValue(samples, "disk_write_bytes_per_second", { device: "md0" })).toBe((24000 * 512) / 2);
    expect(sampleValue(samples, "disk_io_time_percent", { device: "md0" })).toBe(0);
  });

  it("adds partitions with include_partitions, and honours include/exclude globs", async () => {
    const options = DISKIO_OPTIONS.parse({
      include_devices: ["sd*", "loop0"],
      exclude_devices: ["sdl*", "sd[b-j]*"],
      include_partitions: true,
    });
    const diskio = createDiskioCollector(options);
    await diskio.collect(context(fixture("many-disk", "t0"), T0));
    const samples = await diskio.collect(context(fixture("many-disk", "t1"), T0 + 2_000));
    expect(devicesOf(samples)).toEqual(["loop0", "sda", "sda1", "sda2", "sdk", "sdk1"]);
    // sda1: reads 900 → 909, sectors read 72000 → 74000
    expect(sampleValue(samples, "disk_reads_per_second", { device: "sda1" })).toBe(4.5);
    expect(sampleValue(samples, "disk_read_bytes_per_second", { device: "sda1" })).toBe((2000 * 512) / 2);
  });

  it("without sysfs, tells partitions by name", async () => {
    const { proc } = fixture("many-disk", "t0");
    const diskio = createDiskioCollector();
    const sys = new StubProcFs({});
    await diskio.collect({ now: T0, proc, sys, logger: captureLogger().logger });
    const { proc: proc1 } = fixture("many-disk", "t1");
    const samples = await diskio.collect({
      now: T0 + 2_000,
      proc: proc1,
      sys,
      logger: captureLogger().logger,
    });
    expect(devicesOf(samples)).toHaveLength(15);
    expect(devicesOf(samples)).not.toContain("nvme0n1p1");
  });

  it("emits only the names and labels it declares", async () => {
    const diskio = createDiskioCollector(
      DISKIO_OPTIONS.parse({ include_partitions: true, exclude_devices: [] }),
    );
    await diskio.collect(context(fixture("many-disk", "t0"), T0));
    for (const s of await diskio.collect(context(fixture("many-disk", "t1"), T0 + 2_000))) {
      const declared = DISKIO_METRICS.find((m) => m.name === s.metric);
      expect(declared, s.metric).toBeDefined();
      expect(Object.keys(s.labels)).toEqual(declared?.labels);
    }
  });
});

describe("diskio collector edge cases and tolerance", () => {
  const line = (name: string, reads: number, io = 0) =>
    `   8       0 ${name} ${reads} 0 ${reads * 8} 0 ${reads} 0 ${reads * 8} 0 0 ${io} 0\n`;

  it("skips a device for one tick when its counters go down, then re-bases", async () => {
    const proc = new StubProcFs({ diskstats: line("sda", 1000, 500) + line("sdb", 1000, 500) });
    const roots = { proc, sys: new StubProcFs({}) };
    const diskio = createDiskioCollector();
    await diskio.collect(context(roots, T0));
    proc.set("diskstats", line("sda", 10, 5) + line("sdb", 1100, 600)); // sda reset (driver reloaded)
    expect(devicesOf(await diskio.collect(context(roots, T0 + 1_000)))).toEqual(["sdb"]);
    proc.set("diskstats", line("sda", 20, 105) + line("sdb", 1200, 700)); // sda +10 reads, +100 ms busy
    const samples = await diskio.collect(context(roots, T0 + 2_000));
    expect(sampleValue(samples, "disk_reads_per_second", { device: "sda" })).toBe(10);
    expect(sampleValue(samples, "disk_io_time_percent", { device: "sda" })).toBe(10);
  });

  it("emits no io time for 4-counter partition lines and nothing for a zero interval", async () => {
    const proc = new StubProcFs({ diskstats: "   3    1   hda1 100 800 50 400\n" });
    const roots = { proc, sys: new StubProcFs({}) };
    const diskio = createDiskioCollector(DISKIO_OPTIONS.parse({ include_partitions: true }));
    await diskio.collect(context(roots, T0));
    expect(await diskio.collect(context(roots, T0))).toEqual([]);
    proc.set("diskstats", "   3    1   hda1 110 880 60 480\n");
    const samples = await diskio.collect(context(roots, T0 + 1_000));
    expect(samples.map((s) => s.metric)).toEqual([
      "disk_read_bytes_per_second",
      "disk_write_bytes_per_second",
      "disk_reads_per_second",
      "disk_writes_per_second",
    ]);
    expect(sampleValue(samples, "disk_read_bytes_per_second", { device: "hda1" })).toBe(80 * 512);
  });

  it("warns once, naming the file, when diskstats is missing or unreadable", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({});
    const roots = { proc, sys: new StubProcFs({}) };
    const diskio = createDiskioCollector();
    expect(await diskio.collect(context(roots, T0, log.logger))).toEqual([]);
    expect(await diskio.collect(context(roots, T0 + 1_000, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("diskstats"));
    proc.set("diskstats", { error: "EACCES" });
    expect(await diskio.collect(context(roots, T0 + 2_000, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(2);
    expect(log.warnings()[1]?.msg).toMatch(/EACCES.*user allowed to read it/);
  });

  it("uses the good lines of a truncated file or one with unknown lines, with one warning", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ diskstats: line("sda", 100) + line("sdb", 100) });
    const roots = { proc, sys: new StubProcFs({}) };
    const diskio = createDiskioCollector();
    await diskio.collect(context(roots, T0, log.logger));
    proc.set("diskstats", `${line("sda", 200)}   8      16 sdb 2`);
    expect(devicesOf(await diskio.collect(context(roots, T0 + 1_000, log.logger)))).toEqual(["sda"]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("truncated");
    proc.set("diskstats", line("sda", 300) + line("sdb", 300));
    const samples = await diskio.collect(context(roots, T0 + 2_000, log.logger));
    expect(devicesOf(samples)).toEqual(["sda"]); // sdb was forgotten while cut off: it starts over
    proc.set("diskstats", `${line("sda", 400)}some future line\n${line("sdb", 400)}`);
    expect(devicesOf(await diskio.collect(context(roots, T0 + 3_000, log.logger)))).toEqual(["sda", "sdb"]);
    expect(log.warnings()).toHaveLength(2);
    expect(log.warnings()[1]?.msg).toContain('"some future line"');
  });

  it("never throws and keeps io time within 0..100, whatever the file says", async () => {
    const counters = fc.array(fc.nat({ max: 1e9 }), { minLength: 11, maxLength: 11 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string(),
            counters.map((c) => `8 0 sda ${c.join(" ")}\n`),
          ),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        fc.array(fc.integer({ min: -5_000, max: 5_000 }), { minLength: 5, maxLength: 5 }),
        async (texts, steps) => {
          const proc = new StubProcFs({});
          const roots = { proc, sys: new StubProcFs({}) };
          const diskio = createDiskioCollector();
          let now = T0;
          for (const [i, text] of texts.entries()) {
            proc.set("diskstats", text);
            now += steps[i] ?? 1;
            for (const s of await diskio.collect(context(roots, now))) {
              expect(Number.isFinite(s.value)).toBe(true);
              expect(s.value).toBeGreaterThanOrEqual(0);
              if (s.metric === "disk_io_time_percent") expect(s.value).toBeLessThanOrEqual(100);
            }
          }
        },
      ),
    );
  });
});
