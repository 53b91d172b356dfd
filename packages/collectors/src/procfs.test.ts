import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isProcReadError, ProcFs, ProcReadError } from "./procfs.js";

let root: string;
let proc: ProcFs | undefined;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-procfs-"));
  fs.mkdirSync(path.join(root, "net"));
  fs.writeFileSync(path.join(root, "stat"), "cpu  1 2 3 4\n");
  fs.writeFileSync(path.join(root, "net", "dev"), "Inter-|   Receive\n");
});

afterEach(() => {
  proc?.close();
  proc = undefined;
  vi.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
});

function open(options?: { keepFilesOpen?: boolean }): ProcFs {
  proc = new ProcFs(root, options);
  return proc;
}

/** The ProcReadError `fn` throws; fails the test when it throws anything else or nothing. */
function readError(fn: () => unknown): ProcReadError {
  try {
    fn();
  } catch (error: unknown) {
    if (isProcReadError(error)) return error;
    throw error;
  }
  throw new Error("expected a ProcReadError, nothing was thrown");
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

describe("ProcFs reading a plain directory", () => {
  it("reads files and nested files under the root, and joins paths there", () => {
    const p = open();
    expect(p.read("stat")).toBe("cpu  1 2 3 4\n");
    expect(p.read("net/dev")).toBe("Inter-|   Receive\n");
    expect(p.pathOf("net/dev")).toBe(path.join(root, "net", "dev"));
  });

  it("does not keep descriptors open on a root that is not procfs", () => {
    expect(open().keepsFilesOpen).toBe(false);
  });

  it("reads an empty file as an empty string", () => {
    fs.writeFileSync(path.join(root, "empty"), "");
    expect(open().read("empty")).toBe("");
  });

  it("reads a file far bigger than its first buffer, then a small one without stale bytes", () => {
    const big = `${"intr 0".repeat(40_000)}\n`; // 240,001 bytes: the 16 KiB buffer must double 4 times
    fs.writeFileSync(path.join(root, "big"), big);
    const p = open();
    expect(p.read("big")).toBe(big);
    expect(p.read("stat")).toBe("cpu  1 2 3 4\n");
  });

  it("keeps reading until end of file when each read returns only one page, as multi-record procfs files do", () => {
    const text = `${"eth0: 1 2 3\n".repeat(2_000)}`; // 24,000 bytes, served 4096 at a time
    fs.writeFileSync(path.join(root, "pages"), text);
    const realRead = fs.readSync;
    const spy = vi
      .spyOn(fs, "readSync")
      .mockImplementation(
        (
          fd: number,
          buffer: NodeJS.ArrayBufferView,
          offset?: unknown,
          length?: unknown,
          position?: unknown,
        ) => realRead(fd, buffer, offset as number, Math.min(length as number, 4096), position as number),
      );
    expect(open().read("pages")).toBe(text);
    expect(spy.mock.calls.length).toBe(7); // ceil(24000 / 4096) = 6 reads with data, 1 read of 0 bytes
  });

  it("reads a file replaced by rename (new inode) fresh", () => {
    const p = open();
    expect(p.read("stat")).toBe("cpu  1 2 3 4\n");
    fs.writeFileSync(path.join(root, "stat.new"), "cpu  5 6 7 8\n");
    fs.renameSync(path.join(root, "stat.new"), path.join(root, "stat"));
    expect(p.read("stat")).toBe("cpu  5 6 7 8\n");
  });

  it("closes what it opens on every read", () => {
    const opened = vi.spyOn(fs, "openSync");
    const closed = vi.spyOn(fs, "closeSync");
    const p = open();
    p.read("stat");
    p.read("stat");
    expect(opened).toHaveBeenCalledTimes(2);
    expect(closed).toHaveBeenCalledTimes(2);
  });
});

describe("ProcFs errors", () => {
  it("throws ProcReadError ENOENT naming the full path for a missing file", () => {
    const error = readError(() => open().read("pressure/cpu"));
    expect(error).toBeInstanceOf(ProcReadError);
    expect(error.code).toBe("ENOENT");
    expect(error.path).toBe(path.join(root, "pressure", "cpu"));
    expect(error.message).toContain(path.join(root, "pressure", "cpu"));
  });

  it("throws ProcReadError EISDIR for a directory", () => {
    expect(readError(() => open().read("net")).code).toBe("EISDIR");
  });

  it("throws ProcReadError ENOENT when the root itself does not exist", () => {
    proc = new ProcFs(path.join(root, "missing-root"));
    expect(proc.keepsFilesOpen).toBe(false);
    expect(readError(() => proc?.read("stat")).code).toBe("ENOENT");
  });

  it("throws ProcReadError EACCES when open is denied (simulated, so it also holds when tests run as root)", () => {
    vi.spyOn(fs, "openSync").mockImplementationOnce(() => {
      throw errno("EACCES");
    });
    const error = readError(() => open().read("stat"));
    expect(error.code).toBe("EACCES");
    expect(error.path).toBe(path.join(root, "stat"));
  });

  it("refuses paths that are absolute or climb out of the root, without touching the disk", () => {
    const opened = vi.spyOn(fs, "openSync");
    const p = open();
    expect(readError(() => p.read("../etc/passwd")).code).toBe("EINVAL");
    expect(readError(() => p.read("net/../../x")).code).toBe("EINVAL");
    expect(readError(() => p.read("/etc/passwd")).code).toBe("EINVAL");
    expect(opened).not.toHaveBeenCalled();
  });

  it("throws ProcReadError ECLOSED after close()", () => {
    const p = open();
    p.close();
    expect(readError(() => p.read("stat")).code).toBe("ECLOSED");
  });

  it("isProcReadError accepts only ProcReadErrors", () => {
    expect(isProcReadError(new ProcReadError({ code: "ENOENT", path: "/x" }))).toBe(true);
    for (const value of [
      undefined,
      null,
      "ProcReadError",
      {},
      new Error("x"),
      { name: "ProcReadError", code: "E" },
    ]) {
      expect(isProcReadError(value)).toBe(false);
    }
  });
});

describe("ProcFs keeping descriptors open", () => {
  it("opens each path once and re-reads it from offset 0, seeing in-place rewrites", () => {
    const opened = vi.spyOn(fs, "openSync");
    const p = open({ keepFilesOpen: true });
    expect(p.keepsFilesOpen).toBe(true);
    expect(p.read("stat")).toBe("cpu  1 2 3 4\n");
    fs.writeFileSync(path.join(root, "stat"), "cpu  9\n"); // same inode, shorter: no stale tail
    expect(p.read("stat")).toBe("cpu  9\n");
    expect(p.read("net/dev")).toBe("Inter-|   Receive\n");
    expect(opened).toHaveBeenCalledTimes(2); // stat once, net/dev once
  });

  it("drops a descriptor whose read fails and reopens the path once", () => {
    const p = open({ keepFilesOpen: true });
    p.read("stat");
    const opened = vi.spyOn(fs, "openSync");
    const closed = vi.spyOn(fs, "closeSync");
    vi.spyOn(fs, "readSync").mockImplementationOnce(() => {
      throw errno("ESRCH"); // what a <pid>/stat descriptor gives once its process has exited
    });
    expect(p.read("stat")).toBe("cpu  1 2 3 4\n");
    expect(closed).toHaveBeenCalledTimes(1);
    expect(opened).toHaveBeenCalledTimes(1);
    expect(p.read("stat")).toBe("cpu  1 2 3 4\n");
    expect(opened).toHaveBeenCalledTimes(1); // the new descriptor is kept
  });

  it("reports the reopen's error when the file is gone, after one attempt", () => {
    const p = open({ keepFilesOpen: true });
    p.read("stat");
    fs.rmSync(path.join(root, "stat"));
    const opened = vi.spyOn(fs, "openSync");
    vi.spyOn(fs, "readSync").mockImplementationOnce(() => {
      throw errno("ESRCH");
    });
    expect(readError(() => p.read("stat")).code).toBe("ENOENT");
    expect(opened).toHaveBeenCalledTimes(1);
  });

  it("surfaces a read error that persists after the reopen", () => {
    const p = open({ keepFilesOpen: true });
    p.read("stat");
    vi.spyOn(fs, "readSync").mockImplementation(() => {
      throw errno("EIO");
    });
    const error = readError(() => p.read("stat"));
    expect(error.code).toBe("EIO");
    expect(error.path).toBe(path.join(root, "stat"));
  });

  it("close() closes every kept descriptor", () => {
    const p = open({ keepFilesOpen: true });
    p.read("stat");
    p.read("net/dev");
    const closed = vi.spyOn(fs, "closeSync");
    p.close();
    expect(closed).toHaveBeenCalledTimes(2);
    p.close(); // idempotent
    expect(closed).toHaveBeenCalledTimes(2);
  });
});

describe("ProcFs reading without keeping descriptors, listing and resolving", () => {
  it("read(path, { keepOpen: false }) opens and closes each time even where descriptors are kept", () => {
    const opened = vi.spyOn(fs, "openSync");
    const closed = vi.spyOn(fs, "closeSync");
    const p = open({ keepFilesOpen: true });
    expect(p.read("stat", { keepOpen: false })).toBe("cpu  1 2 3 4\n");
    fs.writeFileSync(path.join(root, "stat"), "cpu  5 6 7 8\n");
    expect(p.read("stat", { keepOpen: false })).toBe("cpu  5 6 7 8\n");
    expect(opened).toHaveBeenCalledTimes(2);
    expect(closed).toHaveBeenCalledTimes(2);
    p.read("stat"); // a default read still keeps its descriptor
    expect(closed).toHaveBeenCalledTimes(2);
  });

  it("read(path, { keepOpen: false }) refuses paths out of the root and reports ENOENT", () => {
    const p = open({ keepFilesOpen: true });
    expect(readError(() => p.read("../x", { keepOpen: false })).code).toBe("EINVAL");
    expect(readError(() => p.read("42/stat", { keepOpen: false })).code).toBe("ENOENT");
  });

  it("lists the root and subdirectories, and throws ProcReadError like read()", () => {
    const p = open();
    expect(p.list("").sort()).toEqual(["net", "stat"]);
    expect(p.list("net")).toEqual(["dev"]);
    expect(readError(() => p.list("missing")).code).toBe("ENOENT");
    expect(readError(() => p.list("stat")).code).toBe("ENOTDIR");
    expect(readError(() => p.list("../")).code).toBe("EINVAL");
    p.close();
    expect(readError(() => p.list("")).code).toBe("ECLOSED");
  });

  it("lists, reads and resolves through symlinks inside the root, as /sys/class/hwmon needs", () => {
    fs.mkdirSync(path.join(root, "devices", "chip0", "hwmon", "hwmon0"), { recursive: true });
    fs.writeFileSync(path.join(root, "devices", "chip0", "hwmon", "hwmon0", "temp1_input"), "42000\n");
    fs.mkdirSync(path.join(root, "class", "hwmon"), { recursive: true });
    fs.symlinkSync("../../devices/chip0/hwmon/hwmon0", path.join(root, "class", "hwmon", "hwmon0"));
    const p = open();
    expect(p.list("class/hwmon")).toEqual(["hwmon0"]);
    expect(p.list("class/hwmon/hwmon0")).toEqual(["temp1_input"]);
    expect(p.read("class/hwmon/hwmon0/temp1_input")).toBe("42000\n");
    expect(p.realPath("class/hwmon/hwmon0")).toBe(
      path.join(fs.realpathSync(root), "devices", "chip0", "hwmon", "hwmon0"),
    );
    expect(readError(() => p.realPath("class/hwmon/hwmon9")).code).toBe("ENOENT");
  });
});

describe("ProcFs.releaseKept", () => {
  it("closes exactly the kept descriptors the predicate names", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-kept-"));
    try {
      for (const name of ["1", "2", "3"]) {
        fs.mkdirSync(path.join(root, name));
        fs.writeFileSync(path.join(root, name, "stat"), `${name} (x) S\n`);
      }
      fs.writeFileSync(path.join(root, "loadavg"), "0.1 0.2 0.3 1/2 3\n");
      const proc = new ProcFs(root, { keepFilesOpen: true });
      for (const rel of ["1/stat", "2/stat", "3/stat", "loadavg"]) proc.read(rel);
      expect(proc.keptCount).toBe(4);
      proc.releaseKept((rel) => rel === "2/stat" || rel === "3/stat");
      expect(proc.keptCount).toBe(2);
      expect(proc.isKept("1/stat")).toBe(true);
      expect(proc.isKept("2/stat")).toBe(false);
      expect(proc.isKept("loadavg")).toBe(true);
      // A released file reads fine again (and is kept again).
      expect(proc.read("2/stat")).toBe("2 (x) S\n");
      expect(proc.isKept("2/stat")).toBe(true);
      proc.close();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
