import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Replaces `file` with `bytes` atomically: writes a temp file in the same directory (same file
 * system, so the rename is atomic) with the old file's mode, fsyncs it, renames it over `file`, and
 * fsyncs the directory so the rename survives a power cut. A reader sees the old file or the new one,
 * never a mix; on any error the temp file is removed and `file` is untouched.
 */
export function replaceFileAtomically(file: string, bytes: Uint8Array, pid: number): void {
  const mode = statSync(file).mode & 0o7777;
  const temp = join(dirname(file), `.${basename(file)}.${pid}.update-tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx", mode);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch (unlinkErr) {
      // ENOENT: the temp file was never created (or already renamed); anything else is reported with the cause.
      if (!(unlinkErr instanceof Error && "code" in unlinkErr && unlinkErr.code === "ENOENT"))
        throw new Error(
          `${(err as Error).message}; and could not remove ${temp}: ${(unlinkErr as Error).message}`,
        );
    }
    throw err;
  }
  const dirFd = openSync(dirname(file), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
