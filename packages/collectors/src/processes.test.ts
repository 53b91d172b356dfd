import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Sample } from "@vigil/common";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CollectContext } from "./collector.js";
import {
  createProcessesCollector,
  formatCmdline,
  PROCESSES_METRICS,
  parsePidStat,
  parseStatmResidentPages,
} from "./processes.js";
import { ProcFs } from "./procfs.js";
import { captureLogger, fixtureProcRoot, StubProcFs } from "./test-support.js";

const T0 = 1_764_040_000_000;
/** The two recordings are 1.21 s apart (their uptime files say 3290.91 and 3292.12). */
const T1 = T0 + 1_210;

function context(proc: ProcFs, now: number, logger = captureLogger().logger): CollectContext {
  return { now, proc, sys: proc, logger };
}

function series(samples: readonly Sample[]): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [`${s.metric}${JSON.stringify(s.labels)}`, s.value]));
}

/** A `<pid>/stat` line with the given comm, utime, stime, threads, start time and rss pages. */
function statLine(
  pid: number,
  comm: string,
  utime: number,
  stime: number,
  threads = 1,
  start = 100,
  rss = 10,
): string {
  // fields 3..24: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads itrealvalue starttime vsize rss
  return `${pid} (${comm}) S 1 1 1 0 -1 0 0 0 0 0 ${utime} ${stime} 0 0 20 0 ${threads} 0 ${start} 1000 ${rss} 0 0\n`;
}

describe("parsePidStat", () => {
  it("takes the comm up to the LAST parenthesis, as names may hold ') ('", () => {
    const proc = new ProcFs(fixtureProcRoot("this-machine", "t0"));
    // 4037 (my (weird) proc) S 4035 4032 2190 0 -1 4194304 127 0 0 0 0 0 0 0 20 0 1 0 329037 2990080 425 …
    expect(parsePidStat(proc.readBytes("4037/stat"))).toEqual({
      pid: 4037,
      comm: "my (weird) proc",
      state: "S",
      flags: 4194304,
      cpuTicks: 0,
      numThreads: 1,
      startTicks: 329037,
      rssPages: 425,
    });
    // 4038 (node) … utime 8 stime 2 … num_threads 7 … starttime 329037 … rss 9989
    expect(parsePidStat(proc.readBytes("4038/stat"))).toMatchObject({
      comm: "node",
      cpuTicks: 10,
      numThreads: 7,
      rssPages: 9989,
    });
  });

  it("reads a comm with a trailing ') ' and spaces", () => {
    expect(parsePidStat(Buffer.from(statLine(7, "a) b ) (c", 1, 2)))).toMatchObject({
      pid: 7,
      comm: "a) b ) (c",
      cpuTicks: 3,
    });
  });

  it("decodes a UTF-8 comm whole, and its multi-byte characters do not shift the fields after it", () => {
    expect(parsePidStat(Buffer.from(statLine(8, "café ▶ x", 5, 6)))).toMatchObject({
      pid: 8,
      comm: "café ▶ x",
      state: "S",
      cpuTicks: 11,
    });
  });

  it("returns an issue, not a throw, for truncated or garbled lines", () => {
    const parse = (text: string) => parsePidStat(Buffer.from(text));
    expect(parse("12 (bash) S 1 1 1 0 -1 0 0 0 0 0 5")).toEqual({
      line: 1,
      text: "12 (bash) S 1 1 1 0 -1 0 0 0 0 0 5",
      reason: "fields 9, 14, 15, 20, 22 and 24 must be counters",
    });
    expect(parse("12 bash S\n")).toEqual({ line: 1, text: "12 bash S", reason: "no (comm) field" });
    expect("reason" in parse("")).toBe(true);
    // two spaces make an empty field, a sign or a letter is not a counter, 2^53 is not exact
    expect("reason" in parse(statLine(12, "x", 1, 1).replace(" 1 1 0 0 20", "  1 1 0 0 20"))).toBe(true);
    expect("reason" in parse(statLine(12, "x", 1, 1).replace(" 1 1 0 0 20", " -1 1 0 0 20"))).toBe(true);
    expect("reason" in parse(statLine(12, "x", 9_007_199_254_740_992, 1))).toBe(true);
    expect(parse(statLine(12, "x", 9_007_199_254_740_990, 1))).toMatchObject({
      cpuTicks: 9_007_199_254_740_991,
    });
  });

  it("ignores a missing trailing newline and fields after rss", () => {
    expect(parsePidStat(Buffer.from(statLine(3, "y", 4, 5, 2, 77, 9).trimEnd()))).toEqual({
      pid: 3,
      comm: "y",
      state: "S",
      flags: 0,
      cpuTicks: 9,
      numThreads: 2,
      startTicks: 77,
      rssPages: 9,
    });
  });

  it("never throws", () => {
    fc.assert(fc.property(fc.uint8Array(), (bytes) => void parsePidStat(Buffer.from(bytes))));
    fc.assert(fc.property(fc.string(), (text) => void parsePidStat(Buffer.from(text))));
    const token = fc.oneof(
      fc.constantFrom("(", ")", "((", "))", " "),
      fc.nat().map(String),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        fc.array(token, { maxLength: 40 }),
        (tokens) => void parsePidStat(Buffer.from(tokens.join(" "))),
      ),
    );
  });
});

describe("parseStatmResidentPages and formatCmdline", () => {
  it("reads statm's second field, resident pages", () => {
    // /proc/1/statm on the build VM
    expect(parseStatmResidentPages(Buffer.from("5446 3256 2157 253 0 805 0\n"))).toBe(3256);
    expect(parseStatmResidentPages(Buffer.from("0 0 0 0 0 0 0\n"))).toBe(0); // a kernel thread
    expect(parseStatmResidentPages(Buffer.from("5446 3256"))).toBe(3256);
    expect(parseStatmResidentPages(Buffer.from("5446\n"))).toBeUndefined();
    expect(parseStatmResidentPages(Buffer.from("5446 x 1\n"))).toBeUndefined();
    expect(parseStatmResidentPages(Buffer.from(""))).toBeUndefined();
  });

  it("turns NULs into spaces, drops the trailing one and cuts to 128 characters", () => {
    expect(formatCmdline("sh\0-c\0while :; do :; done\0")).toBe("sh -c while :; do :; done");
    expect(formatCmdline("")).toBe("");
    expect(formatCmdline(`${"x".repeat(200)}\0`)).toHaveLength(128);
  });

  it("never throw", () => {
    fc.assert(fc.property(fc.uint8Array(), (bytes) => void parseStatmResidentPages(Buffer.from(bytes))));
    fc.assert(fc.property(fc.string(), (text) => void formatCmdline(text)));
  });
});

describe("processes collector on this machine's two recorded readings", () => {
  // pids 2 (kthreadd), 4036 (sh busy loop), 4037 (my (weird) proc), 4038 (node)
  // utime+stime t0 → t1:  2: 0 → 0   4036: 61 → 183 (+122)   4037: 0 → 0   4038: 10 → 10
  // 122 ticks at 100 Hz = 1.22 s of CPU in 1.21 s of wall time → 100.83% (the read times are not aligned to ticks)
  // threads: 1 + 1 + 1 + 7 = 10; rss pages in stat (no statm in this recording, so stat's rss is
  // reported, times the 4096-byte pages t0's self/auxv gives): 4036 358, 4037 425, 4038 9989, 2 0
  // fd entries: 4036 5, 4037 5, 4038 19; 2 is a kernel thread (flags 2129984 = 0x208040 has
  // PF_KTHREAD 0x200000): 0 fds and an empty cmdline without reading them (its empty fd/ is not even
  // in the recording, as git cannot store it)
  it("emits totals and per-process gauges, CPU % only from the second reading", async () => {
    const processes = createProcessesCollector({ topN: 10 });
    const log = captureLogger();
    const first = series(
      await processes.collect(context(new ProcFs(fixtureProcRoot("this-machine", "t0")), T0, log.logger)),
    );
    expect(first["processes_total{}"]).toBe(4);
    expect(first["threads_total{}"]).toBe(10);
    expect(Object.keys(first).filter((k) => k.startsWith("process_cpu_percent"))).toEqual([]);
    expect(first['process_memory_bytes{"pid":"4038","name":"node"}']).toBe(9989 * 4096);

    const samples = await processes.collect(
      context(new ProcFs(fixtureProcRoot("this-machine", "t1")), T1, log.logger),
    );
    const got = series(samples);
    expect(got['process_cpu_percent{"pid":"4036","name":"sh"}']).toBeCloseTo((100 * 1.22) / 1.21, 12);
    expect(got['process_cpu_percent{"pid":"4038","name":"node"}']).toBe(0);
    expect(got['process_cpu_percent{"pid":"4037","name":"my (weird) proc"}']).toBe(0);
    expect(got['process_memory_bytes{"pid":"4037","name":"my (weird) proc"}']).toBe(425 * 4096);
    expect(got['process_memory_bytes{"pid":"2","name":"kthreadd"}']).toBe(0);
    expect(got['process_threads{"pid":"4038","name":"node"}']).toBe(7);
    expect(got['process_open_fds{"pid":"4038","name":"node"}']).toBe(19);
    expect(got['process_open_fds{"pid":"4036","name":"sh"}']).toBe(5);
    expect(got['process_open_fds{"pid":"2","name":"kthreadd"}']).toBe(0);
    expect(got['process_info{"pid":"4036","name":"sh","cmdline":"sh -c while :; do :; done"}']).toBe(1);
    expect(
      got['process_info{"pid":"4037","name":"my (weird) proc","cmdline":"/tmp/rec/my (weird) proc 4 0.5"}'],
    ).toBe(1);
    expect(got['process_info{"pid":"2","name":"kthreadd","cmdline":"[kthreadd]"}']).toBe(1);
    expect(samples.every((s) => s.ts === T1)).toBe(true);
    for (const s of samples) {
      expect(Object.keys(s.labels)).toEqual(PROCESSES_METRICS.find((m) => m.name === s.metric)?.labels);
    }
    expect(log.warnings()).toEqual([]);
  });

  it("lists the union of the top N by CPU and the top N by memory", async () => {
    const processes = createProcessesCollector({ topN: 1 });
    await processes.collect(context(new ProcFs(fixtureProcRoot("this-machine", "t0")), T0));
    const samples = await processes.collect(context(new ProcFs(fixtureProcRoot("this-machine", "t1")), T1));
    // top 1 by CPU: 4036 (sh); top 1 by rss pages: 4038 (node, 9989 pages)
    expect(samples.filter((s) => s.metric === "process_info").map((s) => s.labels.pid)).toEqual([
      "4036",
      "4038",
    ]);
  });

  it("top_n = 0 reports only the totals", async () => {
    const samples = await createProcessesCollector({ topN: 0 }).collect(
      context(new ProcFs(fixtureProcRoot("container")), T0),
    );
    expect(samples.map((s) => s.metric)).toEqual(["processes_total", "threads_total"]);
  });

  it("reads the container scenario's three processes", async () => {
    const got = series(
      await createProcessesCollector().collect(context(new ProcFs(fixtureProcRoot("container")), T0)),
    );
    expect(got["processes_total{}"]).toBe(3);
    expect(Object.keys(got).filter((k) => k.startsWith("process_info")).length).toBe(3);
  });
});

describe("processes collector edge cases", () => {
  it("skips silently a process that vanishes between listing and reading (ENOENT, ESRCH)", async () => {
    const proc = new StubProcFs({
      "10/stat": statLine(10, "a", 5, 5),
      "10/cmdline": "a\0",
      "11/stat": { error: "ESRCH" },
      "12/stat": { error: "ENOENT" },
      "13/stat": statLine(13, "b", 1, 1),
      "13/cmdline": { error: "ENOENT" }, // exits after its stat was read
      "self/stat": statLine(10, "a", 5, 5),
    });
    const log = captureLogger();
    const samples = await createProcessesCollector().collect(context(proc, T0, log.logger));
    const got = series(samples);
    expect(got["processes_total{}"]).toBe(2);
    expect(samples.filter((s) => s.metric === "process_info").map((s) => s.labels.pid)).toEqual(["10"]);
    expect(log.warnings()).toEqual([]);
  });

  it("leaves out open fds it may not list (EACCES), without a warning", async () => {
    const proc = new StubProcFs({
      "10/stat": statLine(10, "a", 5, 5), // 1 thread, 10 rss pages
      "10/statm": "9 2 1 1 0 1 0\n", // 2 resident pages: statm wins over stat's rss
      "10/cmdline": "",
      "10/fd": { error: "EACCES" },
    });
    const log = captureLogger();
    const got = series(await createProcessesCollector().collect(context(proc, T0, log.logger)));
    expect(got['process_memory_bytes{"pid":"10","name":"a"}']).toBe(2 * 4096);
    expect(got['process_threads{"pid":"10","name":"a"}']).toBe(1);
    expect(Object.keys(got).some((k) => k.startsWith("process_open_fds"))).toBe(false);
    expect(log.warnings()).toEqual([]);
  });

  it("starts a reused pid over instead of computing a rate across two processes", async () => {
    const proc = new StubProcFs({
      "10/stat": statLine(10, "old", 500, 0, 1, 100),
      "10/cmdline": "",
    });
    const processes = createProcessesCollector();
    await processes.collect(context(proc, T0));
    proc.set("10/stat", statLine(10, "new", 3, 0, 1, 900));
    const first = await processes.collect(context(proc, T0 + 1_000));
    expect(first.some((s) => s.metric === "process_cpu_percent")).toBe(false);
    proc.set("10/stat", statLine(10, "new", 53, 50, 1, 900)); // +100 ticks in 2 s = 50%
    const next = series(await processes.collect(context(proc, T0 + 3_000)));
    expect(next['process_cpu_percent{"pid":"10","name":"new"}']).toBe(50);
  });

  it("counts a multi-threaded process above 100%", async () => {
    const proc = new StubProcFs({
      "10/stat": statLine(10, "java", 0, 0, 40),
      "10/cmdline": "",
    });
    const processes = createProcessesCollector();
    await processes.collect(context(proc, T0));
    proc.set("10/stat", statLine(10, "java", 300, 100, 40)); // 400 ticks = 4 CPU-seconds in 1 s
    expect(
      series(await processes.collect(context(proc, T0 + 1_000)))[
        'process_cpu_percent{"pid":"10","name":"java"}'
      ],
    ).toBe(400);
  });

  it("converts pages with the page size of self/auxv, and says once when it has to assume 4096", async () => {
    const auxv = (pageSize: number) => {
      const word = ["arm", "ia32", "mips", "mipsel", "ppc"].includes(process.arch) ? 4 : 8;
      const view = new DataView(new ArrayBuffer(4 * word));
      const put = (at: number, value: number) =>
        word === 8
          ? view.setBigUint64(at * 8, BigInt(value), os.endianness() === "LE")
          : view.setUint32(at * 4, value, os.endianness() === "LE");
      put(0, 6); // AT_PAGESZ
      put(1, pageSize);
      return String.fromCharCode(...new Uint8Array(view.buffer)); // bytes < 0x80 survive UTF-8
    };
    const files = { "10/stat": statLine(10, "a", 5, 5), "10/statm": "9 3 1 1 0 1 0\n", "10/cmdline": "" };
    const big = series(
      await createProcessesCollector().collect(
        context(new StubProcFs({ ...files, "self/auxv": auxv(65536) }), T0),
      ),
    );
    expect(big['process_memory_bytes{"pid":"10","name":"a"}']).toBe(3 * 65536);

    const log = captureLogger();
    const processes = createProcessesCollector();
    const noAuxv = new StubProcFs(files);
    await processes.collect(context(noAuxv, T0, log.logger));
    const got = series(await processes.collect(context(noAuxv, T1, log.logger)));
    expect(got['process_memory_bytes{"pid":"10","name":"a"}']).toBe(3 * 4096);
    expect(log.lines.filter((l) => l.msg.includes("page size"))).toHaveLength(1);
    expect(log.warnings()).toEqual([]);
  });

  it("warns once when the procfs root cannot be listed, and once for unreadable or malformed stat files", async () => {
    const log = captureLogger();
    const processes = createProcessesCollector();
    const missing = new StubProcFs({});
    expect(await processes.collect(context(missing, T0, log.logger))).toEqual([]);
    expect(await processes.collect(context(missing, T0 + 1, log.logger))).toEqual([]);
    expect(log.warnings()).toHaveLength(1);
    expect(log.warnings()[0]?.msg).toContain("cannot list");

    const hidden = new StubProcFs({
      "20/stat": { error: "EACCES" },
      "21/stat": { error: "EACCES" },
      "22/stat": "22 (x",
    });
    const samples = series(await processes.collect(context(hidden, T0 + 2, log.logger)));
    expect(samples["processes_total{}"]).toBe(0);
    expect(log.warnings()).toHaveLength(2);
    expect(log.warnings()[1]?.msg).toMatch(/2 process\(es\).*EACCES.*hidepid.*malformed/);
  });

  it("reads a real procfs-like tree where a pid directory vanishes between listing and reading", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-processes-"));
    try {
      fs.cpSync(fixtureProcRoot("this-machine", "t0"), root, { recursive: true });
      const proc = new ProcFs(root);
      const original = proc.readBytes.bind(proc);
      // 4037 exits right after the listing
      proc.readBytes = (relPath, options) => {
        if (relPath.startsWith("4037/")) fs.rmSync(path.join(root, "4037"), { recursive: true, force: true });
        return original(relPath, options);
      };
      const log = captureLogger();
      const got = series(await createProcessesCollector().collect(context(proc, T0, log.logger)));
      expect(got["processes_total{}"]).toBe(3);
      expect(log.warnings()).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("never throws and never emits a negative or non-finite value, whatever the files say", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 4 }), async (files) => {
        const proc = new StubProcFs({});
        files.forEach(([stat, statm], i) => {
          proc.set(`${i + 1}/stat`, stat);
          proc.set(`${i + 1}/statm`, statm);
          proc.set(`${i + 1}/cmdline`, "x");
        });
        const processes = createProcessesCollector();
        await processes.collect(context(proc, T0));
        for (const s of await processes.collect(context(proc, T1))) {
          expect(Number.isFinite(s.value) && s.value >= 0).toBe(true);
        }
      }),
    );
  });
});
