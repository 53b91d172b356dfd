export { builtinCollectors, DEFAULT_COLLECTOR_INTERVAL_MS } from "./builtin.js";
export type {
  CollectContext,
  Collector,
  CollectorOptions,
  CollectorOptionsSchema,
  CollectorRegistration,
} from "./collector.js";
export { type CounterDelta, CounterDeltas } from "./counter-delta.js";
export {
  CPU_METRICS,
  CPU_MODES,
  type CpuMode,
  type CpuTimes,
  createCpuCollector,
  type ProcStat,
  parseProcStat,
} from "./cpu.js";
export { defaultOptions, defineCollector, NO_OPTIONS } from "./define-collector.js";
export {
  createDirectoryCollector,
  DIRECTORY_ENTRIES_PER_TURN,
  DIRECTORY_METRICS,
  DIRECTORY_OPTIONS,
  type DirectoryOptions,
  type DirectoryUsage,
  WalkTimeoutError,
  walkDirectory,
} from "./directory.js";
export {
  createDiskioCollector,
  DISKIO_METRICS,
  DISKIO_OPTIONS,
  DISKSTATS_SECTOR_BYTES,
  type DiskioOptions,
  type DiskStats,
  type Diskstats,
  parseDiskstats,
} from "./diskio.js";
export {
  createExecCollector,
  EXEC_METRICS,
  EXEC_OPTIONS,
  type ExecCommand,
  type ExecJsonParse,
  type ExecOptions,
  type ExecSample,
  parseExecJson,
} from "./exec.js";
export {
  createFilehandlesCollector,
  FILEHANDLES_METRICS,
  type FileNr,
  parseFileNr,
} from "./filehandles.js";
export {
  createFilesystemCollector,
  FILESYSTEM_METRICS,
  FILESYSTEM_OPTIONS,
  type FilesystemOptions,
  type FsStats,
  type MountInfo,
  type Mountinfo,
  parseMountinfo,
  type StatFsFunction,
} from "./filesystem.js";
export {
  createGpuCollector,
  GPU_METRICS,
  GPU_OPTIONS,
  type GpuOptions,
  type NvidiaGpu,
  type NvidiaSmiParse,
  parseNvidiaSmiCsv,
} from "./gpu.js";
export {
  createHwmonCollector,
  HWMON_METRICS,
  hwmonDeviceId,
  parseMillidegrees,
  parseSysfsText,
  temperatureInputs,
} from "./hwmon.js";
export {
  createLoadCollector,
  LOAD_METRICS,
  type Loadavg,
  parseLoadavg,
  parseUptime,
  type Uptime,
} from "./load.js";
export { createMemoryCollector, MEMORY_METRICS, type Meminfo, parseMeminfo } from "./memory.js";
export {
  keptCatalogueTail,
  METRICS_CATALOGUE_HEADER,
  METRICS_CATALOGUE_KEPT_MARKER,
  renderMetricsCatalogue,
} from "./metrics-catalogue.js";
export { CollectorModuleError, isCollectorModuleError, loadCollectorModule } from "./module-collector.js";
export {
  createNetworkCollector,
  NETWORK_METRICS,
  NETWORK_OPTIONS,
  type NetDev,
  type NetDevInterface,
  type NetworkOptions,
  parseNetDev,
} from "./network.js";
export {
  createPressureCollector,
  PRESSURE_METRICS,
  PRESSURE_RESOURCES,
  type Pressure,
  type PressureLine,
  type PressureResource,
  parsePressure,
} from "./pressure.js";
export type { ParseIssue } from "./proc-text.js";
export {
  CMDLINE_MAX_CHARS,
  createProcessesCollector,
  formatCmdline,
  type PidStat,
  PROCESSES_METRICS,
  type ProcessesOptions,
  parsePidStat,
  USER_HZ,
} from "./processes.js";
export {
  isProcReadError,
  ProcFs,
  type ProcFsOptions,
  ProcReadError,
  type ProcReadOptions,
} from "./procfs.js";
export {
  escapeLabelValue,
  type PrometheusSample,
  type PrometheusTextIssue,
  type PrometheusTextParse,
  parsePrometheusText,
} from "./prometheus-text.js";
export { type CommandResult, runCommand } from "./run-command.js";
export {
  createSystemdCollector,
  parseSystemctlJson,
  parseSystemctlPlain,
  SYSTEMD_METRICS,
  SYSTEMD_OPTIONS,
  type SystemctlParse,
  type SystemdOptions,
  type SystemdUnit,
} from "./systemd.js";
export {
  createTextfileCollector,
  DEFAULT_TEXTFILE_DIRECTORY,
  TEXTFILE_MAX_BYTES,
  TEXTFILE_METRICS,
  TEXTFILE_OPTIONS,
  type TextfileOptions,
} from "./textfile.js";
