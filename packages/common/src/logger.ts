import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Paths pino blanks out wherever they appear, so no secret reaches a log line. */
export const REDACTED_PATHS = [
  "apiKey",
  "api_key",
  "token",
  "password",
  "authorization",
  "*.apiKey",
  "*.api_key",
  "*.token",
  "*.password",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
];

/**
 * The one way a Vigil process makes its root logger: JSON lines on stdout (or `destination`),
 * tagged with the component name, secrets redacted.
 */
export function createLogger(opts: {
  name: string;
  level?: LogLevel;
  destination?: NodeJS.WritableStream;
}): Logger {
  const options: LoggerOptions = {
    name: opts.name,
    level: opts.level ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
