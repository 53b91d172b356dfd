const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
/** Fields every pino line has; the terminal view leaves them out. */
const NOISE = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/**
 * Turns a pino JSON line into a short terminal line, `INFO  connected to server serverVersion=0.1.0`;
 * anything that is not a JSON log line (banners, warnings) passes through unchanged.
 */
export function formatLogLine(line: string): string {
  if (!line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== "number" || typeof entry.msg !== "string") return line;
  const level = (LEVEL_NAMES[entry.level] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !NOISE.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [level, entry.msg, ...fields].join(" ");
}
