import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAuxvPageSize, readPageSize } from "./page-size.js";
import { ProcFs } from "./procfs.js";
import { fixtureProcRoot } from "./test-support.js";

/** An auxiliary vector of `[type, value]` pairs as `wordBytes`-byte words, AT_NULL added. */
function auxv(pairs: readonly [number, number][], wordBytes: 4 | 8, littleEndian: boolean): Uint8Array {
  const words = [...pairs, [0, 0]].flat();
  const view = new DataView(new ArrayBuffer(words.length * wordBytes));
  words.forEach((word, i) => {
    if (wordBytes === 8) view.setBigUint64(i * 8, BigInt(word), littleEndian);
    else view.setUint32(i * 4, word, littleEndian);
  });
  return new Uint8Array(view.buffer);
}

describe("parseAuxvPageSize", () => {
  it("finds AT_PAGESZ in this machine's recorded self/auxv (x86-64: 8-byte little-endian words)", () => {
    // `cp /proc/self/auxv`: 23 pairs, AT_PAGESZ (6) = 0x1000 is the fourth
    const proc = new ProcFs(fixtureProcRoot("this-machine", "t0"));
    expect(parseAuxvPageSize(proc.readBytes("self/auxv"), 8, true)).toBe(4096);
  });

  it("reads 4-byte and big-endian vectors", () => {
    const pairs: [number, number][] = [
      [33, 0x7f00_0000],
      [16, 0xbfeb_fbff],
      [6, 65536],
      [17, 100],
    ];
    expect(parseAuxvPageSize(auxv(pairs, 4, true), 4, true)).toBe(65536);
    expect(parseAuxvPageSize(auxv(pairs, 8, false), 8, false)).toBe(65536);
    expect(parseAuxvPageSize(auxv([[6, 16384]], 4, false), 4, false)).toBe(16384);
  });

  it("is undefined without AT_PAGESZ before AT_NULL, or for a value that is no page size", () => {
    expect(parseAuxvPageSize(auxv([[17, 100]], 8, true), 8, true)).toBeUndefined();
    const afterEnd = new Uint8Array([...auxv([[17, 100]], 8, true), ...auxv([[6, 4096]], 8, true)]);
    expect(parseAuxvPageSize(afterEnd, 8, true)).toBeUndefined();
    expect(parseAuxvPageSize(auxv([[6, 4095]], 8, true), 8, true)).toBeUndefined();
    expect(parseAuxvPageSize(auxv([[6, 512]], 8, true), 8, true)).toBeUndefined();
    expect(parseAuxvPageSize(auxv([[6, 2 ** 31]], 8, true), 8, true)).toBeUndefined();
    expect(parseAuxvPageSize(new Uint8Array(12), 8, true)).toBeUndefined(); // shorter than a pair
  });

  it("never throws on arbitrary bytes, and returns only powers of two in range", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 96 }),
        fc.constantFrom<4 | 8>(4, 8),
        fc.boolean(),
        (bytes, w, le) => {
          const size = parseAuxvPageSize(bytes, w, le);
          expect(
            size === undefined ||
              [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576].includes(size),
          ).toBe(true);
        },
      ),
    );
  });
});

describe("readPageSize", () => {
  it("reads self/auxv under the root, and is undefined where there is none", () => {
    expect(readPageSize(new ProcFs(fixtureProcRoot("this-machine", "t0")), 8, true)).toBe(4096);
    expect(readPageSize(new ProcFs(fixtureProcRoot("container")), 8, true)).toBeUndefined();
  });
});
