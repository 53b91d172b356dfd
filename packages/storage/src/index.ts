export {
  type AgentHello,
  Catalog,
  DEFAULT_SERIES_CACHE_SIZE,
  type EnrollTokenResult,
  seriesKey,
} from "./catalog.js";
export type { AgentRecord, ApiTokenRecord, EnrollTokenRefusal, TokenRole } from "./catalog-types.js";
export { CHUNK_FORMAT, decodeChunk, encodeChunk } from "./chunk-codec.js";
export {
  CHUNK_DAY_FILE_FORMAT_VERSION,
  MAX_CHUNK_SPAN_MS,
  readDayFileSamples,
  type StoredSample,
} from "./chunk-day-file.js";
export {
  ChunkedStorageEngine,
  type ChunkedStorageEngineOptions,
  MAX_HEAD_AGE_BATCHES,
} from "./chunked-engine.js";
export {
  CATALOG_FILE_NAME,
  catalogPath,
  DAY_MS,
  dayFileName,
  dayFilePath,
  MAX_TIMESTAMP_MS,
  parseDayFileName,
  SAMPLES_DIR_NAME,
  samplesDir,
} from "./data-dir-layout.js";
export { DAY_FILE_FORMAT_VERSION } from "./day-file.js";
export { DEFAULT_MAX_OPEN_DAYS } from "./day-file-cache.js";
export { openReadonlyDb, openWritableDb, type ReadableDb, type WritableDb } from "./db.js";
export { MAX_CHUNK_SAMPLES } from "./head.js";
export { CATALOG_SCHEMA_VERSION } from "./migrate.js";
export {
  MAX_RAW_POINTS_PER_SERIES,
  MAX_STEP_BUCKETS,
  SqliteStorageEngine,
  type SqliteStorageEngineOptions,
} from "./sqlite-engine.js";
export { summarizeValues } from "./stats.js";
export type {
  AppendResult,
  BucketPoint,
  LatestSample,
  RangeQuery,
  RawPoint,
  SeriesInfo,
  SeriesRange,
  SeriesStats,
  StatsQuery,
  StorageEngine,
} from "./storage-engine.js";
export { isStorageError, StorageError, type StorageErrorCode } from "./storage-error.js";
