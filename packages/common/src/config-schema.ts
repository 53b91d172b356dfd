import * as z from "zod";
import { parseDuration } from "./duration.js";
import { parseHostPort } from "./listen-address.js";
import { LOG_LEVELS } from "./logger.js";

/** A duration string in config (`"10s"`), read as milliseconds; `min` bounds it. */
export function zDurationMs(opts: { minMs?: number; maxMs?: number } = {}) {
  return z.string().transform((text, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
    if (opts.minMs !== undefined && ms < opts.minMs) {
      ctx.addIssue({ code: "custom", message: `"${text}" is shorter than the minimum ${opts.minMs} ms` });
      return z.NEVER;
    }
    if (opts.maxMs !== undefined && ms > opts.maxMs) {
      ctx.addIssue({ code: "custom", message: `"${text}" is longer than the maximum ${opts.maxMs} ms` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A `host:port` string in config, validated. */
export const zHostPort = z.string().superRefine((text, ctx) => {
  try {
    parseHostPort(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

export const zLogLevel = z.enum(LOG_LEVELS);
