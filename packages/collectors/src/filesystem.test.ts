import fs from "node:fs";
import path from "node:path";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import {
  createFilesystemCollector,
  DEFAULT_EXCLUDED_FSTYPES,
  decodeMountField,
  FILESYSTEM_METRICS,
  FILESYSTEM_OPTIONS,
  type FsStats,
  filesystemValues,
  parseMountinfo,
  type StatFsFunction,
  selectMounts,
} from "./filesystem.js";
import { createNameFilter } from "./name-filter.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
const THIS_MACHINE = fixtureProcRoot("this-machine", "t0");
/** statfs(2) of the mounts in this-machine/t0's mountinfo, recorded on the build VM with the same reading. */
const RECORDED_STATFS = JSON.parse(
  fs.readFileSync(path.join(path.dirname(THIS_MACHINE), "statfs.json"), "utf8"),
) as Record<string, FsStats>;

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

/** A statfs serving fixed numbers by path, ENOENT for others; counts its calls. */
function fakeStatfs(byPath: Record<string, FsStats | Error | "hang">): StatFsFunction & { calls: string[] } {
  const calls: string[] = [];
  const statfs = async (p: string): Promise<FsStats> => {
    calls.push(p);
    const entry = byPath[p];
    if (entry === "hang") return new Promise<FsStats>(() => {});
    if (entry instanceof Error) throw entry;
    if (entry === undefined) throw errno("ENOENT");
    return entry;
  };
  return Object.assign(statfs, { calls });
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: statfs failed`), { code });
}

function sampleValue(samples: readonly Sample[], metric: string, mountpoint: string): number {
  const found = samples.filter((s) => s.metric === metric && s.labels.mountpoint === mountpoint);
  expect(found, `${metric}{mountpoint="${mountpoint}"}`).toHaveLength(1);
  return found[0]?.value ?? Number.NaN;
}

const mountpointsOf = (samples: readonly Sample[]) => [...new Set(samples.map((s) => s.labels.mountpoint))];
const stats = (blocks: number, bfree: number, bavail: number, files = 100, ffree = 50): FsStats => ({
  bsize: 4096,
  blocks,
  bfree,
  bavail,
  files,
  ffree,
});
const line = (id: number, dev: string, mountpoint: string, fstype: string, source: string) =>
  `${id} 1 ${dev} / ${mountpoint} rw,relatime shared:1 - ${fstype} ${source} rw\n`;

describe("parseMountinfo", () => {
  it("reads this machine's recorded mountinfo", () => {
    const { mounts, issues } = parseMountinfo(fs.readFileSync(`${THIS_MACHINE}/self/mountinfo`, "utf8"));
    expect(issues).toEqual([]);
    expect(mounts).toHaveLength(20);
    // 26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
    expect(mounts.find((m) => m.mountpoint === "/")).toEqual({
      mountId: 26,
      parentId: 1,
      devNumber: "254:0",
      root: "/",
      mountpoint: "/",
      options: "rw,relatime",
      fstype: "ext4",
      source: "/dev/vda",
      superOptions: "rw,discard,resv_strict,resuid=65534,resgid=65534",
    });
  });

  it("decodes octal escapes and reads optional fields and an empty source", () => {
    const { mounts, issues } = parseMountinfo(
      "90 26 8:17 /my\\040dir /mnt/with\\040space\\011tab\\134back rw shared:5 master:2 - ext4 /dev/sdb1 rw\n" +
        "91 26 0:50 / /mnt/empty rw - tmpfs  rw\n",
    );
    expect(issues).toEqual([]);
    expect(mounts[0]).toMatchObject({
      root: "/my dir",
      mountpoint: "/mnt/with space\ttab\\back",
      source: "/dev/sdb1",
    });
    expect(mounts[1]).toMatchObject({ mountpoint: "/mnt/empty", fstype: "tmpfs", source: "" });
    expect(decodeMountField("a\\040b\\12c")).toBe("a b\\12c"); // only 3-digit escapes are the kernel's
  });

  it("skips malformed lines, one issue each", () => {
    const { mounts, issues } = parseMountinfo(
      [
        "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
        "27 1 254:0 / /a rw,relatime ext4 /dev/vda rw", // no separator
        "x 1 254:0 / /b rw - ext4 /dev/vda rw", // id not a number
        "29 1 254 / /c rw - ext4 /dev/vda rw", // no minor
        "30 1 0:1 / relative rw - ext4 /dev/vda rw", // not absolute
        "31 1 0:1 / /d rw -", // nothing after the separator
        "",
        "32 1 0:1 / /e rw - ext4 /dev/v", // truncated
      ].join("\n"),
    );
    expect(mounts.map((m) => m.mountpoint)).toEqual(["/"]);
    expect(issues.map((i) => i.line)).toEqual([8, 2, 3, 4, 5, 6]);
  });

  it("never throws, whatever the text", () => {
    fc.assert(fc.property(fc.string(), (text) => void parseMountinfo(text)));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        (bytes) => void parseMountinfo(Buffer.from(bytes).toString()),
      ),
    );
    const token = fc.oneof(
      fc.constantFrom("-", "/", "0:1", "\\040", "\\", "ext4", "", "26", "99999999999999999999"),
      fc.string({ maxLength: 4 }),
    );
    const mountLine = fc.array(token, { maxLength: 14 }).map((t) => t.join(" "));
    fc.assert(
      fc.property(fc.array(mountLine, { maxLength: 6 }), (lines) => void parseMountinfo(lines.join("\n"))),
    );
  });
});

describe("selectMounts", () => {
  const defaults = FILESYSTEM_OPTIONS.parse({});
  const select = (text: string, options = defaults) =>
    selectMounts(
      parseMountinfo(text).mounts,
      createNameFilter(options.include_mountpoints, options.exclude_mountpoints),
      createNameFilter(options.include_fstypes, options.exclude_fstypes),
    ).map((m) => m.mountpoint);

  it("keeps / and the non-kernel tmpfs of this machine, skipping pseudo filesystems and /dev, /sys", () => {
    expect(select(fs.readFileSync(`${THIS_MACHINE}/self/mountinfo`, "utf8"))).toEqual([
      "/",
      "/mnt/sandboxing/model_tools_env/v1/python",
    ]);
  });

  it("keeps one mount per filesystem, the shortest mount point, and the top one of stacked mounts", () => {
    const text =
      line(1, "8:1", "/srv/data/bind", "ext4", "/dev/sda1") +
      line(2, "8:1", "/srv", "ext4", "/dev/sda1") + // bind mounts of one filesystem: /srv wins
      line(3, "8:1", "/var/www", "ext4", "/dev/sda1") +
      line(4, "0:40", "/run/user/1000", "tmpfs", "tmpfs") +
      line(5, "0:41", "/run/user/1000", "tmpfs", "tmpfs") + // mounted over the previous one
      line(6, "0:42", "/var/lib/docker/overlay2/x/merged", "overlay", "overlay") +
      line(7, "0:43", "/var/lib/docker/volumes", "ext4", "/dev/sdb") +
      line(8, "0:44", "/media/cd", "iso9660", "/dev/sr0");
    expect(select(text)).toEqual(["/srv", "/run/user/1000"]);
    const all = () => true;
    expect(selectMounts(parseMountinfo(text).mounts, all, all).map((m) => m.mountId)).toEqual([
      2, 5, 6, 7, 8,
    ]);
  });

  it("honours include/exclude globs for mount points and types", () => {
    const text =
      line(1, "8:1", "/", "ext4", "/dev/sda1") +
      line(2, "8:2", "/home", "xfs", "/dev/sda2") +
      line(3, "0:50", "/mnt/nfs", "nfs4", "srv:/export") +
      line(4, "0:51", "/tmp", "tmpfs", "tmpfs");
    const options = FILESYSTEM_OPTIONS.parse({
      include_mountpoints: ["/", "/home/**", "/home", "/mnt/**"],
      exclude_fstypes: [...DEFAULT_EXCLUDED_FSTYPES, "nfs*"],
    });
    expect(select(text, options)).toEqual(["/", "/home"]);
    expect(select(text, FILESYSTEM_OPTIONS.parse({ include_fstypes: ["tmpfs"] }))).toEqual(["/tmp"]);
  });
});

describe("filesystemValues", () => {
  it("computes used percent like df: used / (used + avail), root reserve excluded", () => {
    // df -B1 / on the build VM: 270553174016 size, 24133468160 used, 84810825728 avail, Use% 23 (df rounds up)
    const root = RECORDED_STATFS["/"] as FsStats;
    const values = Object.fromEntries(filesystemValues(root));
    // blocks 66053021, bfree 60161057, bavail 20705764, bsize 4096; used = 66053021 − 60161057 = 5891964
    expect(values.filesystem_size_bytes).toBe(66053021 * 4096);
    expect(values.filesystem_free_bytes).toBe(60161057 * 4096);
    expect(values.filesystem_avail_bytes).toBe(20705764 * 4096);
    expect(values.filesystem_used_percent).toBeCloseTo((100 * 5891964) / (5891964 + 20705764), 12);
    expect(Math.ceil(values.filesystem_used_percent as number)).toBe(23);
    // files 16777216, ffree 16353599 → 423617 used
    expect(values.filesystem_inodes_used_percent).toBeCloseTo((100 * 423617) / 16777216, 12);
  });

  it("leaves out percentages whose denominator is 0 (an empty size, no inode count)", () => {
    expect(filesystemValues(stats(0, 0, 0, 0, 0)).map(([m]) => m)).toEqual([
      "filesystem_size_bytes",
      "filesystem_free_bytes",
      "filesystem_avail_bytes",
    ]);
    expect(Object.fromEntries(filesystemValues(stats(100, 0, 0))).filesystem_used_percent).toBe(100);
  });
});

describe("filesystem collector", () => {
  it("measures this machine's mounts with statfs, labelled by mount point, device and type", async () => {
    const statfs = fakeStatfs(RECORDED_STATFS);
    const collector = createFilesystemCollector(undefined, { statfs });
    const log = captureLogger();
    const samples = await collector.collect(context(new ProcFs(THIS_MACHINE), T0, log.logger));
    expect(statfs.calls).toEqual(["/", "/mnt/sandboxing/model_tools_env/v1/python"]);
    expect(samples.filter((s) => s.labels.mountpoint === "/").map((s) => [s.metric, s.labels])).toEqual(
      FILESYSTEM_METRICS.map((m) => [m.name, { mountpoint: "/", device: "/dev/vda", fstype: "ext4" }]),
    );
    expect(sampleValue(samples, "filesystem_size_bytes", "/")).toBe(270553174016);
    // the 4k tmpfs: 1 block, 1 free → 0% used; 3085452 inodes, 1 used
    const tmp = "/mnt/sandboxing/model_tools_env/v1/python";
    expect(sampleValue(samples, "filesystem_used_percent", tmp)).toBe(0);
    expect(sampleValue(samples, "filesystem_inodes_used_percent", tmp)).toBeCloseTo(100 / 3085452, 12);
    expect(samples).toHaveLength(10);
    expect(samples.every((s) => s.ts === T0)).toBe(true);
    expect(log.warnings()).toEqual([]);
  });

  it("emits only the names and labels it declares", async () => {
    const collector = createFilesystemCollector(undefined, { statfs: fakeStatfs(RECORDED_STATFS) });
    for (const s of await collector.collect(context(new ProcFs(THIS_MACHINE), T0))) {
      const declared = FILESYSTEM_METRICS.find((m) => m.name === s.metric);
      expect(declared, s.metric).toBeDefined();
      expect(Object.keys(s.labels)).toEqual(declared?.labels);
    }
  });

  it("skips a mount whose statfs hangs, warns once, and measures it again once the call returns", async () => {
    const mountinfo =
      line(1, "8:1", "/", "ext4", "/dev/sda1") + line(2, "0:50", "/mnt/nfs", "nfs4", "srv:/export");
    const proc = new StubProcFs({ "self/mountinfo": mountinfo });
    let release: (value: FsStats) => void = () => {};
    const calls: string[] = [];
    const statfs: StatFsFunction = (p) => {
      calls.push(p);
      if (p === "/mnt/nfs" && calls.filter((c) => c === p).length === 1) {
        return new Promise<FsStats>((resolve) => {
          release = resolve;
        });
      }
      return Promise.resolve(stats(100, 50, 40));
    };
    const collector = createFilesystemCollector(FILESYSTEM_OPTIONS.parse({ statfs_timeout: "20ms" }), {
      statfs,
    });
    const log = captureLogger();

    const started = Date.now();
    const first = await collector.collect(context(proc, T0, log.logger));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(mountpointsOf(first)).toEqual(["/"]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toMatch(
      /statfs of \/mnt\/nfs .*did not return within 20 ms.*exclude_mountpoints/,
    );

    // Still hung: not called again, not warned again.
    const second = await collector.collect(context(proc, T0 + 10_000, log.logger));
    expect(mountpointsOf(second)).toEqual(["/"]);
    expect(calls.filter((c) => c === "/mnt/nfs")).toHaveLength(1);
    expect(log.warnings()).toHaveLength(1);

    release(stats(100, 50, 40));
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.lines.some((l) => l.msg.includes("returned after all"))).toBe(true);
    const third = await collector.collect(context(proc, T0 + 20_000, log.logger));
    expect(mountpointsOf(third)).toEqual(["/", "/mnt/nfs"]);
    expect(log.warnings()).toHaveLength(1);
  });

  it("measures local filesystems with the synchronous statfs and the rest in the pool, a hung NFS blocking none", async () => {
    const mountinfo =
      line(1, "8:1", "/", "ext4", "/dev/sda1") +
      line(2, "0:50", "/mnt/nfs", "nfs4", "srv:/export") +
      line(3, "8:17", "/mnt/nfs/usb", "vfat", "/dev/sdb1") +
      line(4, "0:30", "/run", "tmpfs", "tmpfs");
    const proc = new StubProcFs({ "self/mountinfo": mountinfo });
    const syncCalls: string[] = [];
    const statfsSync = (p: string): FsStats => {
      syncCalls.push(p);
      if (p === "/run") throw errno("EACCES");
      return stats(100, 50, 40);
    };
    const statfs = fakeStatfs({ "/mnt/nfs": "hang", "/mnt/nfs/usb": stats(10, 5, 5) });
    const collector = createFilesystemCollector(FILESYSTEM_OPTIONS.parse({ statfs_timeout: "20ms" }), {
      statfs,
      statfsSync,
    });
    const log = captureLogger();
    const samples = await collector.collect(context(proc, T0, log.logger));
    // The vfat under the NFS mount goes through the pool too: looking its path up walks the NFS mount.
    expect(syncCalls).toEqual(["/", "/run"]);
    expect(statfs.calls).toEqual(["/mnt/nfs", "/mnt/nfs/usb"]);
    expect(mountpointsOf(samples)).toEqual(["/", "/mnt/nfs/usb"]);
    expect(sampleValue(samples, "filesystem_size_bytes", "/")).toBe(100 * 4096);
    // One warning for the tick, naming both problems.
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toMatch(/statfs of \/run failed \(EACCES\)/);
    expect(log.warnings()[0]?.msg).toMatch(/statfs of \/mnt\/nfs .*did not return within 20 ms/);
  });

  it("parses mountinfo again only when it changes", async () => {
    const proc = new StubProcFs({ "self/mountinfo": line(1, "8:1", "/", "ext4", "/dev/sda1") });
    const syncCalls: string[] = [];
    const collector = createFilesystemCollector(undefined, {
      statfs: fakeStatfs({}),
      statfsSync: (p) => {
        syncCalls.push(p);
        return stats(100, 50, 40);
      },
    });
    expect(mountpointsOf(await collector.collect(context(proc, T0)))).toEqual(["/"]);
    proc.set(
      "self/mountinfo",
      line(1, "8:1", "/", "ext4", "/dev/sda1") + line(2, "8:2", "/data", "xfs", "/dev/sda2"),
    );
    expect(mountpointsOf(await collector.collect(context(proc, T0 + 10_000)))).toEqual(["/", "/data"]);
    proc.set("self/mountinfo", line(2, "8:2", "/data", "xfs", "/dev/sda2"));
    expect(mountpointsOf(await collector.collect(context(proc, T0 + 20_000)))).toEqual(["/data"]);
    expect(syncCalls).toEqual(["/", "/", "/data", "/data"]);
  });

  it("never waits longer than the timeout for a statfs that never returns", async () => {
    const proc = new StubProcFs({ "self/mountinfo": line(1, "0:50", "/mnt/nfs", "nfs", "srv:/x") });
    const collector = createFilesystemCollector(FILESYSTEM_OPTIONS.parse({ statfs_timeout: "10ms" }), {
      statfs: fakeStatfs({ "/mnt/nfs": "hang" }),
    });
    expect(await collector.collect(context(proc, T0))).toEqual([]);
  });

  it("reports the other mounts when statfs fails or throws for one, with one warning", async () => {
    const mountinfo =
      line(1, "8:1", "/", "ext4", "/dev/sda1") +
      line(2, "0:60", "/run/user/1000/gvfs", "fuse.gvfsd-fuse", "gvfsd-fuse") +
      line(3, "0:61", "/gone", "ext4", "/dev/sdc");
    const proc = new StubProcFs({ "self/mountinfo": mountinfo });
    const log = captureLogger();
    const throwing: StatFsFunction = (p) => {
      if (p === "/run/user/1000/gvfs") throw errno("EACCES"); // synchronously, not a rejection
      if (p === "/gone") return Promise.reject(errno("ENOENT")); // unmounted meanwhile: not a warning
      return Promise.resolve(stats(100, 50, 40));
    };
    const collector = createFilesystemCollector(undefined, { statfs: throwing });
    expect(mountpointsOf(await collector.collect(context(proc, T0, log.logger)))).toEqual(["/"]);
    expect(mountpointsOf(await collector.collect(context(proc, T0 + 1, log.logger)))).toEqual(["/"]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toMatch(/statfs of \/run\/user\/1000\/gvfs failed \(EACCES\)/);
  });

  it("warns once, naming the file, when mountinfo is missing or unreadable", async () => {
    const log = captureLogger();
    const proc = new StubProcFs({ "self/mountinfo": { error: "EACCES" } });
    const statfs = fakeStatfs({});
    const collector = createFilesystemCollector(undefined, { statfs });
    expect(await collector.collect(context(proc, T0, log.logger))).toEqual([]);
    expect(await collector.collect(context(proc, T0 + 1, log.logger))).toEqual([]);
    expect(statfs.calls).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain(proc.pathOf("self/mountinfo"));
    proc.set("self/mountinfo", { error: "ENOENT" });
    await collector.collect(context(proc, T0 + 2, log.logger));
    expect(log.warnings()).toHaveLength(2);
    expect(log.warnings()[1]?.msg).toContain("procfs root");
  });

  it("measures the complete lines of a truncated mountinfo and warns once", async () => {
    const log = captureLogger();
    const text = line(1, "8:1", "/", "ext4", "/dev/sda1") + line(2, "8:2", "/home", "ext4", "/dev/sda2");
    const proc = new StubProcFs({ "self/mountinfo": `${text}3 1 8:3 / /va` });
    const collector = createFilesystemCollector(undefined, {
      statfs: fakeStatfs({ "/": stats(10, 5, 5), "/home": stats(10, 5, 5), "/var": stats(10, 5, 5) }),
    });
    expect(mountpointsOf(await collector.collect(context(proc, T0, log.logger)))).toEqual(["/", "/home"]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("truncated");
  });

  it("rejects a bad statfs_timeout and unknown keys in its options", () => {
    expect(FILESYSTEM_OPTIONS.parse({}).statfs_timeout).toBe(5_000);
    expect(FILESYSTEM_OPTIONS.parse({ statfs_timeout: "1m" }).statfs_timeout).toBe(60_000);
    expect(FILESYSTEM_OPTIONS.safeParse({ statfs_timeout: "soon" }).success).toBe(false);
    expect(FILESYSTEM_OPTIONS.safeParse({ statfs_timeout: 5 }).success).toBe(false);
    expect(FILESYSTEM_OPTIONS.safeParse({ exclude_fstype: ["nfs"] }).success).toBe(false);
  });
});
