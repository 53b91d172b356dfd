export { AckError, type AckErrorCode, isAckError } from "./ack-error.js";
export {
  type AgentSettings,
  type MaintenanceWindow,
  type OfflineSuppression,
  offlineSuppression,
} from "./agent-settings.js";
export type {
  ActiveAlert,
  AlertEvent,
  AlertEventKind,
  AlertSink,
  ResolveReason,
  SystemEventInput,
} from "./alert-event.js";
export { SYSTEM_EVENT_KIND } from "./alert-event.js";
export {
  type AlertEventType,
  type AlertState,
  type AlertStateName,
  type AlertTiming,
  forceResolve,
  newAlertState,
  stepAlert,
} from "./alert-state.js";
export {
  type Acknowledgement,
  type AlertHistoryEntry,
  type AlertHistoryType,
  type AlertStore,
  type AlertStoreChanges,
  MemoryAlertStore,
  type PersistedAlert,
} from "./alert-store.js";
export {
  Backtest,
  type BacktestEpisode,
  type BacktestOptions,
  type BacktestResult,
  type BacktestSample,
  backtest,
} from "./backtest.js";
export {
  type AcknowledgeInput,
  AlertEngine,
  type AlertEngineOptions,
  type AlertEngineStats,
  DEFAULT_DOWN_AFTER_MS,
  DEFAULT_OFFLINE_GRACE_MS,
  DEFAULT_STALE_AFTER_MS,
  seriesKey,
} from "./engine.js";
export { type ExpandedValue, expandSeriesValues, STALE } from "./expand-series.js";
export { alertFingerprint } from "./fingerprint.js";
export { type HostHealth, type HostStatus, hostStatus } from "./host-health.js";
export { secondsToThreshold } from "./kinds/trend.js";
export {
  type AbsentRule,
  COMPARISON_OPS,
  type ComparisonOp,
  DEFAULT_REPEAT_INTERVAL_MS,
  isRuleError,
  type OfflineRule,
  parseRule,
  parseRules,
  type RateOfChangeRule,
  RULE_KINDS,
  type Rule,
  RuleError,
  type RuleKind,
  SEVERITIES,
  type Severity,
  type ThresholdRule,
  type TrendRule,
} from "./rule.js";
export { type RuleTestCaseResult, type RuleTestReport, runRuleTests } from "./rule-test.js";
export {
  type CompiledMatcher,
  type MatchOp,
  parseMatcher,
  parseSelector,
  type SeriesSelector,
} from "./selector.js";
export { compileTemplate, TEMPLATE_VARIABLES, type Template, type TemplateContext } from "./template.js";
export { type Regression, SlidingWindow, type WindowFeatures } from "./window.js";
