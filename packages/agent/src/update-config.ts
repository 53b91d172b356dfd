import { ConfigError, isLoopbackHost, zDurationMs } from "@vigil/common";
import * as z from "zod";

/** `update.interval` when not set: once a day. */
export const DEFAULT_UPDATE_INTERVAL_MS = 86_400_000;

/** The `[update]` section of the agent config (self-update from the server; off by default). */
export const updateSection = z.strictObject({
  enabled: z.boolean().default(false),
  interval: zDurationMs({ minMs: 1_000, maxMs: 30 * 86_400_000 }).default(DEFAULT_UPDATE_INTERVAL_MS),
  url: z.string().min(1).optional(),
});

/** Self-update settings, when `[update] enabled = true`. */
export interface UpdateSettings {
  /** How often the agent asks the server for a newer bundle. */
  readonly intervalMs: number;
  /** The server's HTTP base URL (`update.url`), e.g. `https://vigil.example.net:9800/`. */
  readonly baseUrl: URL;
}

type Locate = (dotted: string) => { file: string; line?: number | undefined; key: string };

/**
 * Checks the `[update]` section: when enabled it needs `url`, an http(s) URL; plain `http://` to a host
 * that is not loopback is refused unless `tls.insecure` (the API key and the bundle would cross the
 * network in clear text, and a hash fetched the same way proves nothing). Undefined when disabled.
 */
export function updateSettings(
  section: z.output<typeof updateSection>,
  insecure: boolean,
  locate: Locate,
): UpdateSettings | undefined {
  if (!section.enabled) return undefined;
  if (section.url === undefined)
    throw new ConfigError({
      ...locate("update.enabled"),
      problem:
        'self-update needs update.url, the server\'s HTTP address (e.g. "https://vigil.example.net:9800"), since `server` is its gRPC port',
    });
  let baseUrl: URL;
  try {
    baseUrl = new URL(section.url);
  } catch {
    throw new ConfigError({ ...locate("update.url"), problem: `"${section.url}" is not a URL` });
  }
  if (baseUrl.protocol !== "http:" && baseUrl.protocol !== "https:")
    throw new ConfigError({
      ...locate("update.url"),
      problem: `"${section.url}" is not an http:// or https:// URL`,
    });
  const host = baseUrl.hostname.replace(/^\[(.*)\]$/, "$1");
  if (baseUrl.protocol === "http:" && !insecure && !isLoopbackHost(host))
    throw new ConfigError({
      ...locate("update.url"),
      problem: `plain http:// to ${baseUrl.host}, which is not a loopback address, would send the API key and the bundle in clear text: use https://, or set tls.insecure = true on a trusted network`,
    });
  if (!baseUrl.pathname.endsWith("/")) baseUrl.pathname = `${baseUrl.pathname}/`;
  return { intervalMs: section.interval, baseUrl };
}
