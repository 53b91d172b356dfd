/**
 * The `batch` BLOB of a `wal_batches` row: the samples of one accepted batch that fall in one UTC day,
 * series ids already resolved. Layout: varint sample count, then per sample zigzag varint of the series
 * id minus the previous one, zigzag varint of the timestamp minus the previous one, and the value as
 * 8 bytes IEEE-754 little-endian. A tick of many series costs about 10 bytes per sample: append-only,
 * written once to the SQLite WAL and once at checkpoint, then freed when the samples are in chunks.
 */

/** Samples of one day in columnar form (arrays, or the Float64Arrays the writer thread receives). */
export interface SampleRows {
  readonly seriesIds: ArrayLike<number>;
  readonly timestamps: ArrayLike<number>;
  readonly values: ArrayLike<number>;
}

export function encodeWalBatch(rows: SampleRows): Buffer {
  const n = rows.seriesIds.length;
  const buf = Buffer.allocUnsafe(10 + n * 28);
  let pos = writeVarint(buf, 0, n);
  let prevId = 0;
  let prevTs = 0;
  for (let i = 0; i < n; i++) {
    const id = rows.seriesIds[i] as number;
    const ts = rows.timestamps[i] as number;
    pos = writeVarint(buf, pos, zigzag(id - prevId));
    pos = writeVarint(buf, pos, zigzag(ts - prevTs));
    buf.writeDoubleLE(rows.values[i] as number, pos);
    pos += 8;
    prevId = id;
    prevTs = ts;
  }
  return buf.subarray(0, pos);
}

export function decodeWalBatch(buf: Uint8Array): SampleRows {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const cursor = { pos: 0 };
  const n = readVarint(b, cursor);
  const rows = {
    seriesIds: new Array<number>(n),
    timestamps: new Array<number>(n),
    values: new Array<number>(n),
  };
  let id = 0;
  let ts = 0;
  for (let i = 0; i < n; i++) {
    id += unzigzag(readVarint(b, cursor));
    ts += unzigzag(readVarint(b, cursor));
    if (cursor.pos + 8 > b.length) throw new RangeError("wal batch ends early");
    rows.seriesIds[i] = id;
    rows.timestamps[i] = ts;
    rows.values[i] = b.readDoubleLE(cursor.pos);
    cursor.pos += 8;
  }
  return rows;
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  let p = pos;
  let x = v;
  while (x >= 0x80) {
    buf[p++] = (x % 0x80) | 0x80;
    x = Math.floor(x / 0x80);
  }
  buf[p++] = x;
  return p;
}

function readVarint(buf: Buffer, cursor: { pos: number }): number {
  let out = 0;
  let mul = 1;
  for (;;) {
    if (cursor.pos >= buf.length || mul > 2 ** 56) throw new RangeError("wal batch ends early");
    const byte = buf[cursor.pos++] as number;
    out += (byte & 0x7f) * mul;
    if (byte < 0x80) return out;
    mul *= 0x80;
  }
}
