import { create } from "@bufbuild/protobuf";
import { LABEL_NAME_RE, type Labels, METRIC_NAME_RE, type SeriesSamples } from "@vigil/common";
import { type Batch, BatchSchema, SeriesSchema } from "./gen/vigil/v1/ingest_pb.js";

/** A batch that breaks the format. Resending it cannot succeed. */
export class BatchError extends Error {
  override readonly name = "BatchError";
  readonly code = "invalid_batch";
}

export function isBatchError(value: unknown): value is BatchError {
  return value instanceof Error && value.name === "BatchError";
}

const INT32_MAX = 2_147_483_647;

/**
 * Encodes series into a columnar Batch: every distinct string once in the table, timestamps as
 * sint32 millisecond offsets from the batch's smallest timestamp (a batch must span < 24.8 days).
 */
export function encodeBatch(seq: number, series: readonly SeriesSamples[]): Batch {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  let base = Number.POSITIVE_INFINITY;
  for (const s of series) for (const ts of s.timestamps) if (ts < base) base = ts;
  if (!Number.isFinite(base)) base = 0;
  const out = series.map((s) => {
    const metric = intern(s.metric);
    const labels: number[] = [];
    for (const name of Object.keys(s.labels).sort())
      labels.push(intern(name), intern(s.labels[name] as string));
    const offsets = s.timestamps.map((ts) => {
      const offset = ts - base;
      if (offset > INT32_MAX) throw new RangeError(`batch spans more than ${INT32_MAX} ms; split it`);
      return offset;
    });
    return create(SeriesSchema, { metric, labels, timestampOffsetsMs: offsets, values: [...s.values] });
  });
  return create(BatchSchema, { seq, baseTimestampMs: BigInt(base), strings, series: out });
}

/**
 * Decodes and validates a Batch into series. Throws BatchError naming the first problem:
 * an index outside the string table, an odd label list, unequal timestamp and value counts,
 * an invalid metric or label name, a duplicate label, or a non-finite value or timestamp.
 */
export function decodeBatch(batch: Batch): SeriesSamples[] {
  const { strings } = batch;
  const str = (i: number, what: string, s: number): string => {
    const v = strings[i];
    if (v === undefined)
      throw new BatchError(
        `series ${s}: ${what} index ${i} is outside the string table (${strings.length} strings)`,
      );
    return v;
  };
  // int64 decodes as bigint; convert once per batch, never per sample.
  const base = Number(batch.baseTimestampMs);
  if (!Number.isSafeInteger(base) || base < 0) {
    throw new BatchError(`base_timestamp_ms ${batch.baseTimestampMs} is not a valid Unix millisecond time`);
  }
  return batch.series.map((series, s) => {
    const metric = str(series.metric, "metric", s);
    if (!METRIC_NAME_RE.test(metric))
      throw new BatchError(`series ${s}: invalid metric name ${JSON.stringify(metric)}`);
    if (series.labels.length % 2 !== 0)
      throw new BatchError(`series ${s} (${metric}): labels hold an odd number of indices`);
    const labels: Record<string, string> = {};
    for (let i = 0; i < series.labels.length; i += 2) {
      const name = str(series.labels[i] as number, "label name", s);
      const value = str(series.labels[i + 1] as number, "label value", s);
      if (!LABEL_NAME_RE.test(name))
        throw new BatchError(`series ${s} (${metric}): invalid label name ${JSON.stringify(name)}`);
      if (name in labels)
        throw new BatchError(`series ${s} (${metric}): label ${JSON.stringify(name)} appears twice`);
      labels[name] = value;
    }
    const { timestampOffsetsMs: offsets, values } = series;
    if (offsets.length !== values.length) {
      throw new BatchError(
        `series ${s} (${metric}): ${offsets.length} timestamps but ${values.length} values`,
      );
    }
    const timestamps = new Array<number>(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const v = values[i] as number;
      if (!Number.isFinite(v))
        throw new BatchError(`series ${s} (${metric}): value ${v} at position ${i} is not finite`);
      timestamps[i] = base + (offsets[i] as number);
    }
    return { metric, labels: labels as Labels, timestamps, values };
  });
}

/** The number of samples a batch carries. */
export function batchSampleCount(batch: Batch): number {
  let n = 0;
  for (const s of batch.series) n += s.values.length;
  return n;
}
