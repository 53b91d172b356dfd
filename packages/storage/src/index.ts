export { ALERT_RULE_SQL, AlertRuleTable, type StoredAlertRule } from "./alert-rule-table.js";
export {
  ALERT_HISTORY_SQL,
  type AlertHistoryPage,
  type AlertHistoryQuery,
  type AlertHistoryRow,
  type AlertTableChanges,
  AlertTables,
  DEFAULT_ALERT_HISTORY_LIMIT,
  MAX_ALERT_HISTORY_LIMIT,
  type StoredAlertAck,
  type StoredAlertHistoryEntry,
  type StoredAlertState,
} from "./alert-tables.js";
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
  type DayFileSampleFilter,
  MAX_CHUNK_SPAN_MS,
  readDayFileSamples,
  type StoredSample,
} from "./chunk-day-file.js";
export {
  ChunkedStorageEngine,
  type ChunkedStorageEngineOptions,
  DEFAULT_MAX_QUEUED_BATCHES,
  DEFAULT_MAX_QUEUED_SAMPLES,
  DEFAULT_WAL_MAX_BYTES,
  MAX_HEAD_AGE_BATCHES,
} from "./chunked-engine.js";
export {
  CATALOG_FILE_NAME,
  catalogPath,
  DAY_MS,
  dayFileName,
  dayFilePath,
  dayNumber,
  dayNumberFileName,
  MAX_TIMESTAMP_MS,
  parseDayFileName,
  SAMPLES_DIR_NAME,
  samplesDir,
} from "./data-dir-layout.js";
export { DAY_FILE_FORMAT_VERSION } from "./day-file.js";
export { DEFAULT_MAX_OPEN_DAYS } from "./day-file-cache.js";
export {
  type Durability,
  openReadonlyDb,
  openWritableDb,
  type ReadableDb,
  type WritableDb,
} from "./db.js";
export { MAX_CHUNK_SAMPLES } from "./head.js";
export { CATALOG_SCHEMA_VERSION } from "./migrate.js";
export { type QuarantinedFile, type QuarantineOptions, quarantineBadDayFiles } from "./quarantine.js";
export { FINALIZE_AFTER_DAYS, RollupBuilder, type RollupRunSummary } from "./rollup-builder.js";
export { HOUR_MS, MINUTE_MS, ROLLUPS_FILE_NAME, RollupStore } from "./rollups.js";
export {
  MAX_RAW_POINTS_PER_SERIES,
  MAX_STEP_BUCKETS,
  SqliteStorageEngine,
  type SqliteStorageEngineOptions,
} from "./sqlite-engine.js";
export { summarizeValues } from "./stats.js";
export { checkDbFile, checkStorage, type FileCheck, storageFilePaths } from "./storage-check.js";
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
export {
  isRetryableStorageError,
  isStorageError,
  StorageError,
  type StorageErrorCode,
} from "./storage-error.js";
