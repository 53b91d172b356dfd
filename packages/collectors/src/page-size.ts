/**
 * The kernel's page size, which turns `<pid>/stat`'s rss (in pages) into bytes. Node has no
 * `sysconf(_SC_PAGESIZE)`, so it is read where the C library reads it: the `AT_PAGESZ` entry of the
 * auxiliary vector the kernel hands every process, `<procfs>/self/auxv`.
 */
import { endianness } from "node:os";
import type { ProcFs } from "./procfs.js";

/** `AT_PAGESZ` from `<linux/auxvec.h>`: the entry whose value is the page size. */
const AT_PAGESZ = 6;
/** `AT_NULL`: the entry that ends the vector. */
const AT_NULL = 0;
/** The page size of x86-64 and of most arm64 kernels, used when auxv cannot tell (fixture trees). */
export const DEFAULT_PAGE_SIZE_BYTES = 4096;
/** Page sizes Linux has used go from 4 KiB to 256 KiB (hexagon); anything outside this is not one. */
const MIN_PAGE_SIZE_BYTES = 1024;
const MAX_PAGE_SIZE_BYTES = 1024 * 1024;

/**
 * The page size in an auxiliary vector: `(type, value)` pairs of `wordBytes`-byte unsigned words in
 * the machine's byte order, ended by `AT_NULL`. Undefined when the vector has no `AT_PAGESZ` before
 * its end, or the value is not a power of two in a page size's range. Pure, never throws.
 */
export function parseAuxvPageSize(
  bytes: Uint8Array,
  wordBytes: 4 | 8,
  littleEndian: boolean,
): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (offset: number): number =>
    wordBytes === 8 ? Number(view.getBigUint64(offset, littleEndian)) : view.getUint32(offset, littleEndian);
  for (let offset = 0; offset + 2 * wordBytes <= bytes.byteLength; offset += 2 * wordBytes) {
    const type = read(offset);
    if (type === AT_NULL) return undefined;
    if (type !== AT_PAGESZ) continue;
    const value = read(offset + wordBytes);
    const inRange = value >= MIN_PAGE_SIZE_BYTES && value <= MAX_PAGE_SIZE_BYTES;
    // In range, so the 32-bit `&` is exact: a power of two has one bit set.
    return inRange && (value & (value - 1)) === 0 ? value : undefined;
  }
  return undefined;
}

/** This process's word size in bytes, the one its own auxiliary vector is written in. */
const HOST_WORD_BYTES: 4 | 8 = ["arm", "ia32", "mips", "mipsel", "ppc"].includes(process.arch) ? 4 : 8;

/**
 * This kernel's page size from `self/auxv` under `proc` (the agent's own vector: the page size is the
 * kernel's, so any process's would do), or undefined when that file is missing or unreadable (a
 * fixture tree, a procfs mount of another pid namespace). Word size and byte order default to this
 * process's, which are the ones its own vector is written in.
 */
export function readPageSize(
  proc: ProcFs,
  wordBytes: 4 | 8 = HOST_WORD_BYTES,
  littleEndian: boolean = endianness() === "LE",
): number | undefined {
  let bytes: Buffer;
  try {
    bytes = proc.readBytes("self/auxv", { keepOpen: false });
  } catch {
    // Callers fall back to DEFAULT_PAGE_SIZE_BYTES and say so in their own log line.
    return undefined;
  }
  return parseAuxvPageSize(bytes, wordBytes, littleEndian);
}
