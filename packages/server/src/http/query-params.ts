import { parseLabelMatchers, parseTimeSpec } from "@vigil/common";
import { badRequest } from "./http-error.js";

/** Query parameters `/metrics` and `/stats` share (JSON schema properties). */
export const SERIES_QUERY_PROPERTIES = {
  agent: { type: "string", minLength: 1 },
  metric: { type: "string", minLength: 1 },
  labels: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
} as const;

/** Parses one query parameter, turning a parse failure into a 400 that names the parameter. */
export function parseParam<T>(name: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    throw badRequest(`${name}: ${(err as Error).message}`);
  }
}

/**
 * `from` and `to` (RFC 3339, Unix seconds or relative, read against `nowMs`), with their defaults when
 * absent; a 400 naming the parameter when one is unreadable, and when `from` is after `to`.
 */
export function parseTimeRange(
  from: string | undefined,
  to: string | undefined,
  defaults: { readonly from: string; readonly to: string },
  nowMs: number,
): { fromMs: number; toMs: number } {
  const fromMs = parseParam("from", from ?? defaults.from, (t) => parseTimeSpec(t, nowMs));
  const toMs = parseParam("to", to ?? defaults.to, (t) => parseTimeSpec(t, nowMs));
  if (fromMs > toMs) throw badRequest(`from (${fromMs}) is after to (${toMs})`);
  return { fromMs, toMs };
}

/** `labels=k=v,k2!=v2` as matchers (none when absent). */
export function parseLabelsParam(labels: string | undefined) {
  return parseParam("labels", labels ?? "", parseLabelMatchers);
}
