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
export { createMemoryCollector, MEMORY_METRICS, type Meminfo, parseMeminfo } from "./memory.js";
export type { ParseIssue } from "./proc-text.js";
export { isProcReadError, ProcFs, type ProcFsOptions, ProcReadError } from "./procfs.js";
