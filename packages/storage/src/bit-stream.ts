/**
 * Bit-level writer and reader for the chunk codec. Bits are written most significant first into bytes,
 * also most significant first, so a stream reads the same way it was written. Values of up to 32 bits
 * go through one call; wider ones are written as a high part and a low 32-bit part by the caller.
 */
export class BitWriter {
  #buf: Uint8Array;
  /** Bits written so far. */
  #bits = 0;

  constructor(initialBytes = 256) {
    this.#buf = new Uint8Array(Math.max(16, initialBytes));
  }

  /** Bits written so far. */
  get bitLength(): number {
    return this.#bits;
  }

  /** Writes the low `n` bits of `value` (0 <= n <= 32), most significant first. */
  write(value: number, n: number): void {
    if (n === 0) return;
    this.#ensure(n);
    let v = n === 32 ? value >>> 0 : (value & (2 ** n - 1)) >>> 0;
    let left = n;
    while (left > 0) {
      const byte = this.#bits >>> 3;
      const free = 8 - (this.#bits & 7);
      const take = Math.min(left, free);
      const shift = left - take;
      const bits = (v >>> shift) & ((1 << take) - 1);
      this.#buf[byte] = ((this.#buf[byte] as number) | (bits << (free - take))) & 0xff;
      this.#bits += take;
      left -= take;
      v = shift === 0 ? 0 : v & ((2 ** shift - 1) >>> 0);
    }
  }

  /** Writes a non-negative integer below 2^53 in `n` bits (n <= 53). */
  writeWide(value: number, n: number): void {
    if (n <= 32) {
      this.write(value, n);
      return;
    }
    const hi = Math.floor(value / 4294967296);
    this.write(hi, n - 32);
    this.write(value >>> 0, 32);
  }

  /** Writes one bit. */
  bit(set: boolean): void {
    this.#ensure(1);
    if (set) {
      const byte = this.#bits >>> 3;
      this.#buf[byte] = (this.#buf[byte] as number) | (0x80 >>> (this.#bits & 7));
    }
    this.#bits++;
  }

  /** The bytes written, the last one padded with zero bits. */
  finish(): Uint8Array {
    return this.#buf.slice(0, (this.#bits + 7) >>> 3);
  }

  #ensure(n: number): void {
    const need = (this.#bits + n + 7) >>> 3;
    if (need <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(need, this.#buf.length * 2));
    next.set(this.#buf);
    this.#buf = next;
  }
}

/** Reads what a `BitWriter` wrote. Reading past the end throws. */
export class BitReader {
  readonly #buf: Uint8Array;
  #pos: number;
  readonly #end: number;

  /** Reads `buf` starting at byte `startByte`. */
  constructor(buf: Uint8Array, startByte = 0) {
    this.#buf = buf;
    this.#pos = startByte * 8;
    this.#end = buf.length * 8;
  }

  /** Reads `n` bits (0 <= n <= 32) as an unsigned number. */
  read(n: number): number {
    if (n === 0) return 0;
    if (this.#pos + n > this.#end) throw new RangeError("chunk data ends early");
    let out = 0;
    let left = n;
    while (left > 0) {
      const byte = this.#buf[this.#pos >>> 3] as number;
      const avail = 8 - (this.#pos & 7);
      const take = Math.min(left, avail);
      const bits = (byte >>> (avail - take)) & ((1 << take) - 1);
      out = out * (1 << take) + bits;
      this.#pos += take;
      left -= take;
    }
    return out;
  }

  /** Reads a non-negative integer written by `writeWide` with the same `n`. */
  readWide(n: number): number {
    if (n <= 32) return this.read(n);
    const hi = this.read(n - 32);
    return hi * 4294967296 + this.read(32);
  }

  /** Reads one bit. */
  bit(): boolean {
    if (this.#pos >= this.#end) throw new RangeError("chunk data ends early");
    const byte = this.#buf[this.#pos >>> 3] as number;
    const set = (byte & (0x80 >>> (this.#pos & 7))) !== 0;
    this.#pos++;
    return set;
  }
}
