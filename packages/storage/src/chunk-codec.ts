import { BitReader, BitWriter } from "./bit-stream.js";

/**
 * The compressed form of one series' samples (a chunk). Layout, all in one byte string:
 *
 * ```
 * byte 0   CHUNK_FORMAT (1)
 * byte 1   value mode: 0 = XOR of IEEE-754 bits (Gorilla), 1 = decimal-scaled integers
 * byte 2   decimal digits d (mode 1: every value is n / 10^d for an integer n)
 * byte 3   base width of the timestamp code
 * byte 4   base width of the value code (mode 1)
 * varint   sample count
 * bits     first timestamp (53 bits), then zigzag(delta) of the second and zigzag(delta of delta) of
 *          the rest in the adaptive integer code
 * bits     values: mode 1: zigzag(n[i] - n[i-1]) (n[-1] = 0) in the adaptive integer code;
 *          mode 0: the first value's 64 bits, then Gorilla XOR records
 * ```
 *
 * The adaptive integer code with base width b: `0` is 0; `10` + b bits; `110` + (b+4) bits;
 * `1110` + (b+10) bits; `1111` + 53 bits. The encoder picks the b (per chunk, per column) that makes the
 * chunk smallest, from a histogram of bit lengths, so a regular scrape interval costs 1 bit per
 * timestamp and a 2-decimal gauge about 1–1.5 bytes per value.
 *
 * Decimal mode is used when every value round-trips exactly through `Math.round(v * 10^d) / 10^d` for
 * some d <= MAX_DECIMALS (and is not -0); otherwise XOR mode, which is bit-exact for every double,
 * NaN payloads, ±Infinity, -0 and subnormals included.
 */
export const CHUNK_FORMAT = 1;

/** Timestamps must be integers in [0, MAX_CODEC_TIMESTAMP], strictly ascending. */
export const MAX_CODEC_TIMESTAMP = 2 ** 50 - 1;

/** Most decimal digits tried before falling back to XOR mode. */
export const MAX_DECIMALS = 12;

const MODE_XOR = 0;
const MODE_DECIMAL = 1;
const HEADER_BYTES = 5;
const TS_FIRST_BITS = 53;
const WIDE_BITS = 53;
/** |n| bound for decimal mode, so every delta's zigzag stays a safe integer. */
const MAX_SCALED = 2 ** 50;
const TWO_32 = 4294967296;
const POW10 = Array.from({ length: MAX_DECIMALS + 1 }, (_, d) => 10 ** d);

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("chunk codec assumes a little-endian machine");
}

/** A decoded chunk: ascending timestamps (Unix ms) and their values. */
export interface DecodedChunk {
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

/**
 * Encodes `count` samples (timestamps[0..count), values[0..count)). Throws a RangeError for an empty
 * chunk or timestamps that are not strictly ascending integers in [0, MAX_CODEC_TIMESTAMP].
 */
export function encodeChunk(
  timestamps: ArrayLike<number>,
  values: ArrayLike<number>,
  count: number = timestamps.length,
): Uint8Array {
  if (count < 1 || count > timestamps.length || count > values.length)
    throw new RangeError(`cannot encode a chunk of ${count} samples`);
  const tsCodes = timestampCodes(timestamps, count);
  const digits = decimalDigits(values, count);
  const valueCodes = digits >= 0 ? decimalCodes(values, count, POW10[digits] as number) : undefined;
  const tsBase = bestBase(tsCodes);
  const valueBase = valueCodes ? bestBase(valueCodes) : 0;

  const w = new BitWriter(HEADER_BYTES + 8 + count * 2);
  w.write(CHUNK_FORMAT, 8);
  w.write(valueCodes ? MODE_DECIMAL : MODE_XOR, 8);
  w.write(Math.max(digits, 0), 8);
  w.write(tsBase, 8);
  w.write(valueBase, 8);
  let c = count;
  while (c >= 0x80) {
    w.write((c & 0x7f) | 0x80, 8);
    c >>>= 7;
  }
  w.write(c, 8);
  w.writeWide(timestamps[0] as number, TS_FIRST_BITS);
  for (let i = 0; i < tsCodes.length; i++) writeAdaptive(w, tsCodes[i] as number, tsBase);
  if (valueCodes) {
    for (let i = 0; i < valueCodes.length; i++) writeAdaptive(w, valueCodes[i] as number, valueBase);
  } else {
    writeXorValues(w, values, count);
  }
  return w.finish();
}

/** Decodes a chunk written by `encodeChunk`. Throws on a malformed or truncated chunk. */
export function decodeChunk(data: Uint8Array): DecodedChunk {
  if (data.length < HEADER_BYTES + 1) throw new RangeError("chunk data ends early");
  if (data[0] !== CHUNK_FORMAT) throw new RangeError(`unknown chunk format ${data[0]}`);
  const mode = data[1] as number;
  const digits = data[2] as number;
  const tsBase = data[3] as number;
  const valueBase = data[4] as number;
  if (mode > MODE_DECIMAL || digits > MAX_DECIMALS) throw new RangeError("malformed chunk header");
  let pos = HEADER_BYTES;
  let count = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= data.length || shift > 28) throw new RangeError("malformed chunk count");
    const byte = data[pos++] as number;
    count += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (count < 1) throw new RangeError("malformed chunk count");
  const r = new BitReader(data, pos);
  const timestamps = new Float64Array(count);
  const values = new Float64Array(count);
  let ts = r.readWide(TS_FIRST_BITS);
  timestamps[0] = ts;
  let delta = 0;
  for (let i = 1; i < count; i++) {
    const z = readAdaptive(r, tsBase);
    const d = unzigzag(z);
    delta = i === 1 ? d : delta + d;
    ts += delta;
    timestamps[i] = ts;
  }
  if (mode === MODE_DECIMAL) {
    const p = POW10[digits] as number;
    let n = 0;
    for (let i = 0; i < count; i++) {
      n += unzigzag(readAdaptive(r, valueBase));
      values[i] = n / p;
    }
  } else {
    readXorValues(r, values, count);
  }
  return { timestamps, values };
}

/** The sample count stored in a chunk's header, without decoding it. */
export function chunkCount(data: Uint8Array): number {
  let pos = HEADER_BYTES;
  let count = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = data[pos++] as number;
    count += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return count;
  }
}

function timestampCodes(timestamps: ArrayLike<number>, count: number): number[] {
  const codes = new Array<number>(count - 1);
  let prev = timestamps[0] as number;
  checkTimestamp(prev, -1);
  let prevDelta = 0;
  for (let i = 1; i < count; i++) {
    const ts = timestamps[i] as number;
    checkTimestamp(ts, prev);
    const delta = ts - prev;
    codes[i - 1] = zigzag(i === 1 ? delta : delta - prevDelta);
    prevDelta = delta;
    prev = ts;
  }
  return codes;
}

function checkTimestamp(ts: number, prev: number): void {
  if (!Number.isInteger(ts) || ts < 0 || ts > MAX_CODEC_TIMESTAMP || ts <= prev) {
    throw new RangeError(
      `chunk timestamps must be ascending integers in [0, ${MAX_CODEC_TIMESTAMP}]; got ${ts} after ${prev}`,
    );
  }
}

/** The fewest decimal digits every value round-trips with, or -1 when some value needs XOR mode. */
export function decimalDigits(values: ArrayLike<number>, count: number): number {
  let d = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
    while (!fitsDecimal(v, d)) {
      if (++d > MAX_DECIMALS) return -1;
    }
  }
  // A value that fit a smaller d is not guaranteed to fit the final one: check again.
  for (let i = 0; i < count; i++) if (!fitsDecimal(values[i] as number, d)) return -1;
  return d;
}

function fitsDecimal(v: number, d: number): boolean {
  const p = POW10[d] as number;
  const n = Math.round(v * p);
  return n / p === v && n <= MAX_SCALED && n >= -MAX_SCALED;
}

function decimalCodes(values: ArrayLike<number>, count: number, p: number): number[] {
  const codes = new Array<number>(count);
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const n = Math.round((values[i] as number) * p);
    codes[i] = zigzag(n - prev);
    prev = n;
  }
  return codes;
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

function bitLength(v: number): number {
  if (v === 0) return 0;
  if (v < TWO_32) return 32 - Math.clz32(v);
  return 64 - Math.clz32(Math.floor(v / TWO_32));
}

/** The base width in [1, 40] that makes `codes` shortest in the adaptive code. */
function bestBase(codes: readonly number[]): number {
  if (codes.length === 0) return 1;
  const hist = new Array<number>(WIDE_BITS + 1).fill(0);
  for (let i = 0; i < codes.length; i++) {
    const len = bitLength(codes[i] as number);
    hist[len] = (hist[len] as number) + 1;
  }
  let best = 1;
  let bestCost = Number.POSITIVE_INFINITY;
  for (let b = 1; b <= 40; b++) {
    let cost = hist[0] as number;
    for (let len = 1; len <= WIDE_BITS; len++) {
      const n = hist[len] as number;
      if (n !== 0) cost += n * adaptiveBits(len, b);
    }
    if (cost < bestCost) {
      bestCost = cost;
      best = b;
    }
  }
  return best;
}

function adaptiveBits(len: number, b: number): number {
  if (len === 0) return 1;
  if (len <= b) return 2 + b;
  if (len <= b + 4) return 3 + b + 4;
  if (len <= b + 10) return 4 + b + 10;
  return 4 + WIDE_BITS;
}

function writeAdaptive(w: BitWriter, v: number, b: number): void {
  if (v === 0) {
    w.write(0, 1);
    return;
  }
  const len = bitLength(v);
  if (len <= b) {
    w.write(0b10, 2);
    w.writeWide(v, b);
  } else if (len <= b + 4) {
    w.write(0b110, 3);
    w.writeWide(v, b + 4);
  } else if (len <= b + 10) {
    w.write(0b1110, 4);
    w.writeWide(v, b + 10);
  } else {
    w.write(0b1111, 4);
    w.writeWide(v, WIDE_BITS);
  }
}

function readAdaptive(r: BitReader, b: number): number {
  if (!r.bit()) return 0;
  if (!r.bit()) return r.readWide(b);
  if (!r.bit()) return r.readWide(b + 4);
  if (!r.bit()) return r.readWide(b + 10);
  return r.readWide(WIDE_BITS);
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function writeXorValues(w: BitWriter, values: ArrayLike<number>, count: number): void {
  f64[0] = values[0] as number;
  let prevLo = u32[0] as number;
  let prevHi = u32[1] as number;
  w.write(prevHi, 32);
  w.write(prevLo, 32);
  let winLead = -1;
  let winTrail = 0;
  for (let i = 1; i < count; i++) {
    f64[0] = values[i] as number;
    const lo = u32[0] as number;
    const hi = u32[1] as number;
    const xHi = (hi ^ prevHi) >>> 0;
    const xLo = (lo ^ prevLo) >>> 0;
    prevHi = hi;
    prevLo = lo;
    if (xHi === 0 && xLo === 0) {
      w.write(0, 1);
      continue;
    }
    let lead = xHi !== 0 ? Math.clz32(xHi) : 32 + Math.clz32(xLo);
    if (lead > 31) lead = 31;
    const trail = xLo !== 0 ? ctz32(xLo) : 32 + ctz32(xHi);
    if (winLead >= 0 && lead >= winLead && trail >= winTrail) {
      w.write(0b10, 2);
      writeShifted(w, xHi, xLo, winTrail, 64 - winLead - winTrail);
    } else {
      const sig = 64 - lead - trail;
      w.write(0b11, 2);
      w.write(lead, 5);
      w.write(sig - 1, 6);
      writeShifted(w, xHi, xLo, trail, sig);
      winLead = lead;
      winTrail = trail;
    }
  }
}

/** Writes the `n` bits of the 64-bit (hi, lo) starting at bit `t` (from the least significant). */
function writeShifted(w: BitWriter, hi: number, lo: number, t: number, n: number): void {
  let sHi: number;
  let sLo: number;
  if (t === 0) {
    sHi = hi;
    sLo = lo;
  } else if (t >= 32) {
    sHi = 0;
    sLo = hi >>> (t - 32);
  } else {
    sHi = hi >>> t;
    sLo = ((lo >>> t) | (hi << (32 - t))) >>> 0;
  }
  if (n > 32) {
    w.write(sHi, n - 32);
    w.write(sLo, 32);
  } else {
    w.write(sLo, n);
  }
}

function readXorValues(r: BitReader, values: Float64Array, count: number): void {
  let hi = r.read(32);
  let lo = r.read(32);
  u32[0] = lo;
  u32[1] = hi;
  values[0] = f64[0] as number;
  let winLead = 0;
  let winTrail = 0;
  for (let i = 1; i < count; i++) {
    if (r.bit()) {
      let n: number;
      let t: number;
      if (r.bit()) {
        winLead = r.read(5);
        const sig = r.read(6) + 1;
        winTrail = 64 - winLead - sig;
        n = sig;
        t = winTrail;
      } else {
        n = 64 - winLead - winTrail;
        t = winTrail;
      }
      let sHi = 0;
      let sLo: number;
      if (n > 32) {
        sHi = r.read(n - 32);
        sLo = r.read(32);
      } else {
        sLo = r.read(n);
      }
      let xHi: number;
      let xLo: number;
      if (t === 0) {
        xHi = sHi;
        xLo = sLo;
      } else if (t >= 32) {
        xHi = (sLo << (t - 32)) >>> 0;
        xLo = 0;
      } else {
        xHi = ((sHi << t) | (sLo >>> (32 - t))) >>> 0;
        xLo = (sLo << t) >>> 0;
      }
      hi = (hi ^ xHi) >>> 0;
      lo = (lo ^ xLo) >>> 0;
    }
    u32[0] = lo;
    u32[1] = hi;
    values[i] = f64[0] as number;
  }
}

/** Encodes in XOR mode regardless of the values: for measuring the two modes against each other. */
export function encodeChunkXor(timestamps: ArrayLike<number>, values: ArrayLike<number>): Uint8Array {
  const count = timestamps.length;
  const tsCodes = timestampCodes(timestamps, count);
  const tsBase = bestBase(tsCodes);
  const w = new BitWriter(HEADER_BYTES + 8 + count * 4);
  w.write(CHUNK_FORMAT, 8);
  w.write(MODE_XOR, 8);
  w.write(0, 8);
  w.write(tsBase, 8);
  w.write(0, 8);
  let c = count;
  while (c >= 0x80) {
    w.write((c & 0x7f) | 0x80, 8);
    c >>>= 7;
  }
  w.write(c, 8);
  w.writeWide(timestamps[0] as number, TS_FIRST_BITS);
  for (let i = 0; i < tsCodes.length; i++) writeAdaptive(w, tsCodes[i] as number, tsBase);
  writeXorValues(w, values, count);
  return w.finish();
}
