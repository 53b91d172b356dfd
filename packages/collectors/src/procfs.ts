import fs from "node:fs";
import nodePath from "node:path";

/** `statfs(2)` f_type of a procfs mount (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;
/** Fits `stat` and `meminfo` of ordinary machines in one read; grows by doubling when a file fills it. */
const INITIAL_BUFFER_BYTES = 16 * 1024;
/** No file under procfs is near this; a bigger one is a wrong root (e.g. a device node), not data. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Why a file under the procfs root could not be read. `code` is the errno name from Node
 * (`ENOENT`, `EACCES`, `EISDIR`, `ESRCH`, ...) or one of ours: `EINVAL` (a relative path that is
 * absolute or climbs out with `..`), `EFBIG` (over 64 MiB), `ECLOSED` (the reader was closed).
 */
export class ProcReadError extends Error {
  override readonly name = "ProcReadError";
  readonly code: string;
  /** Full path of the file, root included, for messages that must name the file. */
  readonly path: string;

  constructor(opts: { code: string; path: string; cause?: unknown }) {
    super(
      `cannot read ${opts.path}: ${opts.code}`,
      opts.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.code = opts.code;
    this.path = opts.path;
  }
}

/** Narrows a caught `unknown` to a {@link ProcReadError}. */
export function isProcReadError(value: unknown): value is ProcReadError {
  return (
    value instanceof Error &&
    value.name === "ProcReadError" &&
    typeof (value as { code?: unknown }).code === "string" &&
    typeof (value as { path?: unknown }).path === "string"
  );
}

export interface ProcFsOptions {
  /**
   * Keep one file descriptor open per file and re-read it from offset 0 on every call.
   * Default: true exactly when `root` is a procfs mount. Force it only for roots whose files are
   * rewritten in place, never replaced by rename: a kept descriptor goes on reading the old inode.
   */
  readonly keepFilesOpen?: boolean;
}

/** Per-call options of {@link ProcFs.read}. */
export interface ProcReadOptions {
  /**
   * Whether a procfs root may keep this file's descriptor open for the next read (default true).
   * Pass false for per-process files: thousands of kept descriptors would exhaust the fd limit.
   * A descriptor that is already kept is used either way (and stays kept).
   */
  readonly keepOpen?: boolean;
  /**
   * The file is one record generated whole on each read (`<pid>/stat`, a `single_open` seq_file):
   * one read that does not fill the buffer has it all, so skip the extra read that would return 0.
   * Never set it for multi-record files (`net/dev`, `diskstats`), which come a page at a time.
   */
  readonly singleRecord?: boolean;
}

/**
 * Reads files under a procfs root (the real `/proc`, a container's bind mount, or a recorded
 * fixture tree). It is the only place that joins paths under the root.
 *
 * Errors: `read()` throws a {@link ProcReadError} (narrow with {@link isProcReadError}) for a
 * missing or unreadable file; it never returns partial data from a failed read. Collectors turn
 * that into one warning and a partial result.
 *
 * Freshness: on a procfs mount, descriptors stay open because a procfs file regenerates its
 * content on every read from offset 0 (~47 µs for four files vs ~160 µs with `readFileSync`),
 * and procfs files are never replaced by rename. If a kept descriptor starts failing (e.g.
 * `ESRCH` once the process behind `<pid>/stat` exits) it is dropped and the path reopened once.
 * Any other root (fixture trees in tests, copies swapped by rename in end-to-end tests) is
 * opened afresh on every read, so a renamed-in file is always the one read. The root's
 * filesystem type is checked once, in the constructor, with `statfs(2)`.
 */
export class ProcFs {
  readonly root: string;
  /** Whether descriptors are cached (see the class comment). */
  readonly keepsFilesOpen: boolean;
  /** Whether the root is a procfs mount, whose `<pid>/fd` directories report their entry count as size. */
  private readonly isProcfs: boolean;
  /** Kept descriptors by the relative path given to `read()` (checked once, when first opened). */
  private readonly fds = new Map<string, number>();
  // One buffer for every read: reads are synchronous, so no two can overlap.
  private buffer = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private closed = false;

  constructor(root: string, options: ProcFsOptions = {}) {
    this.root = nodePath.resolve(root);
    this.isProcfs = isProcfsMount(this.root);
    this.keepsFilesOpen = options.keepFilesOpen ?? this.isProcfs;
  }

  /** The full path of `relPath` (e.g. `"stat"`, `"net/dev"`, `"1/stat"`) under the root. */
  pathOf(relPath: string): string {
    return nodePath.join(this.root, relPath);
  }

  /**
   * The whole text of `relPath` under the root. Throws {@link ProcReadError}.
   *
   * `keepOpen: false` opens, reads and closes even on a procfs root, and leaves any kept
   * descriptor alone: for files read once per short-lived object, like `<pid>/stat` of thousands
   * of processes, where kept descriptors would pile up to the fd limit and pin exited tasks.
   */
  read(relPath: string, options: ProcReadOptions = {}): string {
    const bytes = this.readBytes(relPath, options);
    return bytes.toString("utf8", 0, bytes.length);
  }

  /**
   * Like {@link read}, but the raw bytes, for binary files (`self/auxv`) and for parsers that pick
   * numbers out of the bytes without decoding the whole text (`<pid>/stat` of every process, every
   * tick). The result is a view of the reader's one buffer: valid only until the next `read`/`readBytes`
   * call on this reader, so parse or copy it at once.
   */
  readBytes(relPath: string, options: ProcReadOptions = {}): Buffer {
    const single = options.singleRecord === true;
    // A kept descriptor's path was checked when it was opened; looking it up first spares the
    // path checks on the hot path (one call per process per tick).
    const cached = this.fds.get(relPath);
    if (cached !== undefined) {
      try {
        return this.readAll(cached, relPath, single);
      } catch (error: unknown) {
        // The descriptor went bad (its process exited, the mount was replaced): drop it and fall
        // through to one fresh open, whose own failure is the error the caller sees.
        this.fds.delete(relPath);
        closeQuietly(cached);
        if (isProcReadError(error) && error.code === "EFBIG") throw error;
      }
    }
    const fullPath = this.checkedPath(relPath);
    if (!this.keepsFilesOpen || options.keepOpen === false) return this.readOnce(fullPath, relPath, single);
    const fd = openForRead(fullPath);
    try {
      const bytes = this.readAll(fd, relPath, single);
      this.fds.set(relPath, fd);
      return bytes;
    } catch (error: unknown) {
      closeQuietly(fd);
      throw error;
    }
  }

  /**
   * The names in directory `relDir` under the root (`""` for the root itself), unsorted, without
   * `.` and `..`; symlinks (e.g. `/sys/class/hwmon/hwmon0`) are followed. Throws {@link ProcReadError}
   * like `read()` (`ENOENT`, `EACCES`, `ENOTDIR`, ...). Never cached.
   */
  list(relDir: string): string[] {
    const fullPath = this.checkedPath(relDir);
    try {
      return fs.readdirSync(fullPath);
    } catch (error: unknown) {
      throw new ProcReadError({ code: errnoCode(error), path: fullPath, cause: error });
    }
  }

  /**
   * How many open descriptors a process has: the entry count of `relFdDir` (a `<pid>/fd` directory),
   * without listing it where the kernel can say. Since Linux 6.2 procfs reports that count as the
   * directory's size in `stat(2)` (one syscall instead of a listing that, for a server with thousands
   * of sockets, returns thousands of names). A size of 0 (older kernels; or truly no descriptors) and
   * any root that is not procfs (a fixture's plain directory reports its block size) fall back to
   * listing. Throws {@link ProcReadError} like `list()`.
   */
  countFdEntries(relFdDir: string): number {
    if (this.isProcfs) {
      const fullPath = this.checkedPath(relFdDir);
      let size: number;
      try {
        size = fs.statSync(fullPath).size;
      } catch (error: unknown) {
        throw new ProcReadError({ code: errnoCode(error), path: fullPath, cause: error });
      }
      if (size > 0) return size;
    }
    return this.list(relFdDir).length;
  }

  /**
   * The canonical absolute path of `relPath` with every symlink resolved (`realpath(3)`), e.g.
   * `class/hwmon/hwmon1` → `<root>/devices/…/nvme/nvme0/hwmon1`, to tell devices apart by where they
   * sit. Throws {@link ProcReadError} like `read()`.
   */
  realPath(relPath: string): string {
    const fullPath = this.checkedPath(relPath);
    try {
      return fs.realpathSync(fullPath);
    } catch (error: unknown) {
      throw new ProcReadError({ code: errnoCode(error), path: fullPath, cause: error });
    }
  }

  /** How many descriptors are kept open now. */
  get keptCount(): number {
    return this.fds.size;
  }

  /** Whether `relPath`'s descriptor is kept open now. */
  isKept(relPath: string): boolean {
    return this.fds.has(relPath);
  }

  /** Closes `relPath`'s kept descriptor, if any (e.g. `<pid>/stat` once that process is gone). */
  release(relPath: string): void {
    const fd = this.fds.get(relPath);
    if (fd === undefined) return;
    this.fds.delete(relPath);
    closeQuietly(fd);
  }

  /**
   * Closes the kept descriptors of every path (relative, as given to `read()`) for which `release`
   * says true. A collector that keeps per-process files open (`<pid>/stat`) calls this once per tick
   * for the processes it no longer saw, so descriptors never pile up or pin exited tasks.
   */
  releaseKept(release: (relPath: string) => boolean): void {
    for (const [relPath, fd] of this.fds) {
      if (release(relPath)) {
        this.fds.delete(relPath);
        closeQuietly(fd);
      }
    }
  }

  /** Closes every kept descriptor. Later `read()` and `list()` calls throw a `ProcReadError` with code `ECLOSED`. */
  close(): void {
    this.closed = true;
    for (const fd of this.fds.values()) closeQuietly(fd);
    this.fds.clear();
  }

  /** `relPath`'s full path, or a ProcReadError when the reader is closed or the path leaves the root. */
  private checkedPath(relPath: string): string {
    const fullPath = this.pathOf(relPath);
    if (this.closed) throw new ProcReadError({ code: "ECLOSED", path: fullPath });
    if (nodePath.isAbsolute(relPath) || relPath.split(/[\\/]/).includes("..")) {
      throw new ProcReadError({ code: "EINVAL", path: fullPath });
    }
    return fullPath;
  }

  private readOnce(fullPath: string, relPath: string, singleRecord: boolean): Buffer {
    const fd = openForRead(fullPath);
    try {
      return this.readAll(fd, relPath, singleRecord);
    } finally {
      closeQuietly(fd);
    }
  }

  /**
   * Reads from offset 0 until a read returns 0 bytes. One read is not enough: a multi-record
   * procfs file (`net/dev`, `diskstats`) hands out at most one kernel page per read however big
   * the buffer, and files under procfs report size 0, so end of file is the only reliable stop.
   * Returns a view of the shared buffer (see {@link readBytes}).
   */
  private readAll(fd: number, relPath: string, singleRecord = false): Buffer {
    let length = 0;
    for (;;) {
      if (length === this.buffer.length) this.growBuffer(relPath);
      let bytesRead: number;
      try {
        bytesRead = fs.readSync(fd, this.buffer, length, this.buffer.length - length, length);
      } catch (error: unknown) {
        throw new ProcReadError({ code: errnoCode(error), path: this.pathOf(relPath), cause: error });
      }
      if (bytesRead === 0) return this.buffer.subarray(0, length);
      length += bytesRead;
      if (singleRecord && length < this.buffer.length) return this.buffer.subarray(0, length);
    }
  }

  private growBuffer(relPath: string): void {
    if (this.buffer.length >= MAX_FILE_BYTES)
      throw new ProcReadError({ code: "EFBIG", path: this.pathOf(relPath) });
    const bigger = Buffer.allocUnsafe(this.buffer.length * 2);
    this.buffer.copy(bigger);
    this.buffer = bigger;
  }
}

function isProcfsMount(root: string): boolean {
  try {
    return fs.statfsSync(root).type === PROC_SUPER_MAGIC;
  } catch {
    // A root that cannot be stat'ed (missing, not Linux) is read without kept descriptors;
    // the first read() then reports the real problem, naming the file.
    return false;
  }
}

function openForRead(fullPath: string): number {
  try {
    return fs.openSync(fullPath, "r");
  } catch (error: unknown) {
    throw new ProcReadError({ code: errnoCode(error), path: fullPath, cause: error });
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Only a descriptor we are discarding can fail here (EBADF/EIO); there is nothing to retry and
    // the caller is already reporting the read that mattered.
  }
}

function errnoCode(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === "string" ? code : "EIO";
}
