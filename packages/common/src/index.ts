export { AGENT_ID_RE, AGENT_ID_RULE } from "./agent-id.js";
export { isUsageError, parseCliArgs, UsageError } from "./cli-args.js";
export { ConfigError, isConfigError } from "./config-error.js";
export { zDurationMs, zHostPort, zLogLevel } from "./config-schema.js";
export { formatDuration, parseDuration } from "./duration.js";
export {
  canonicalLabels,
  type LabelMatcher,
  type LabelMatchOp,
  matchesLabels,
  parseLabelMatchers,
} from "./labels.js";
export { formatHostPort, type HostPort, isLoopbackHost, parseHostPort } from "./listen-address.js";
export { createLogger, LOG_LEVELS, type Logger, type LogLevel, REDACTED_PATHS } from "./logger.js";
export { checkPemKeyPair, type PemKind, readPemFile } from "./pem-file.js";
export {
  groupBySeries,
  LABEL_NAME_RE,
  type Labels,
  METRIC_NAME_RE,
  type MetricDescriptor,
  type MetricType,
  type Sample,
  type SeriesSamples,
} from "./sample.js";
export { onShutdownSignal } from "./shutdown-signals.js";
export { parseTimeSpec } from "./time-spec.js";
export { parseTomlText, readTomlFile, validateConfig } from "./toml-config.js";
export { findTomlKeyLine } from "./toml-key-line.js";
