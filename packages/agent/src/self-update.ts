import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "@vigil/common";
import * as z from "zod";
import { replaceFileAtomically } from "./atomic-replace.js";
import { httpGet } from "./http-get.js";

/** The server's route answering `{version, sha256, url}` for the current agent bundle. */
export const UPDATE_MANIFEST_PATH = "api/v1/agent/update";
/** How long one request (manifest or bundle) may take. */
export const UPDATE_REQUEST_TIMEOUT_MS = 120_000;
/** A manifest larger than this is not a manifest. */
const MAX_MANIFEST_BYTES = 64 * 1024;
/** A bundle larger than this is refused (today's is about 3 MiB). */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

const manifestSchema = z.object({
  version: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
  url: z.string().min(1),
});

/** What the server offers. */
export type UpdateManifest = z.output<typeof manifestSchema>;

/** How one check ended. */
export type UpdateOutcome =
  | { readonly kind: "current"; readonly sha256: string }
  | { readonly kind: "updated"; readonly version: string; readonly sha256: string }
  /** The download did not match the manifest: nothing was written. */
  | { readonly kind: "refused"; readonly reason: string }
  /** The server could not be asked, or answered with an error: try again next time. */
  | { readonly kind: "failed"; readonly reason: string };

export interface UpdateCheckOptions {
  /** The running bundle, to compare and to replace. */
  readonly bundlePath: string;
  /** The server's HTTP base URL, ending in `/`. */
  readonly baseUrl: URL;
  /** The agent's API key, sent as the bearer token. */
  readonly apiKey: string;
  readonly ca?: Buffer | undefined;
  readonly currentVersion: string;
  /** For the temp file's name. */
  readonly pid: number;
  readonly logger: Logger;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Asks the server for the agent bundle's manifest; when its sha256 differs from the running bundle's,
 * downloads the bundle, checks its sha256 against the manifest, and replaces the running bundle file
 * atomically (`replaceFileAtomically`). A download whose hash does not match is refused and nothing is
 * written. Never throws: every problem is an outcome, logged here.
 */
export async function checkForUpdate(opts: UpdateCheckOptions): Promise<UpdateOutcome> {
  const log = opts.logger;
  const failed = (reason: string): UpdateOutcome => {
    log.warn({ reason }, "agent update check failed; trying again at the next interval");
    return { kind: "failed", reason };
  };
  const manifestUrl = new URL(UPDATE_MANIFEST_PATH, opts.baseUrl);
  let manifest: UpdateManifest;
  try {
    const res = await httpGet(manifestUrl, {
      bearer: opts.apiKey,
      ca: opts.ca,
      timeoutMs: UPDATE_REQUEST_TIMEOUT_MS,
      maxBytes: MAX_MANIFEST_BYTES,
    });
    if (res.status !== 200)
      return failed(`GET ${manifestUrl.href}: HTTP ${res.status} ${errorText(res.body)}`);
    const parsed = manifestSchema.safeParse(JSON.parse(res.body.toString("utf8")));
    if (!parsed.success)
      return failed(
        `GET ${manifestUrl.href}: not an update manifest (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`,
      );
    manifest = parsed.data;
  } catch (err) {
    return failed(`GET ${manifestUrl.href}: ${err instanceof Error ? err.message : String(err)}`);
  }

  let running: string;
  try {
    running = sha256Hex(readFileSync(opts.bundlePath));
  } catch (err) {
    return failed(
      `cannot read the running bundle ${opts.bundlePath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (running === manifest.sha256) {
    log.debug({ version: opts.currentVersion, sha256: running }, "agent bundle is up to date");
    return { kind: "current", sha256: running };
  }

  const bundleUrl = new URL(manifest.url, manifestUrl);
  // The key goes only to the server it belongs to, never to a host the manifest names.
  const sameOrigin = bundleUrl.origin === manifestUrl.origin;
  let bytes: Buffer;
  try {
    const res = await httpGet(bundleUrl, {
      bearer: sameOrigin ? opts.apiKey : undefined,
      ca: opts.ca,
      timeoutMs: UPDATE_REQUEST_TIMEOUT_MS,
      maxBytes: MAX_BUNDLE_BYTES,
    });
    if (res.status !== 200) return failed(`GET ${bundleUrl.href}: HTTP ${res.status} ${errorText(res.body)}`);
    bytes = res.body;
  } catch (err) {
    return failed(`GET ${bundleUrl.href}: ${err instanceof Error ? err.message : String(err)}`);
  }

  const downloaded = sha256Hex(bytes);
  if (downloaded !== manifest.sha256) {
    const reason = `the downloaded bundle's sha256 ${downloaded} does not match the manifest's ${manifest.sha256}`;
    log.error(
      {
        url: bundleUrl.href,
        expected: manifest.sha256,
        actual: downloaded,
        bytes: bytes.length,
        bundle: opts.bundlePath,
      },
      "agent update refused: the download does not match the manifest's sha256; the running bundle is unchanged",
    );
    return { kind: "refused", reason };
  }

  try {
    replaceFileAtomically(opts.bundlePath, bytes, opts.pid);
  } catch (err) {
    return failed(
      `could not replace ${opts.bundlePath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  log.info(
    { bundle: opts.bundlePath, from: opts.currentVersion, to: manifest.version, sha256: manifest.sha256 },
    "agent bundle updated",
  );
  return { kind: "updated", version: manifest.version, sha256: manifest.sha256 };
}

/** The `error` of a `{"error", "code"}` body, or the first 200 characters of whatever it is. */
function errorText(body: Buffer): string {
  const text = body.toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof parsed.error === "string")
      return `${parsed.error}${typeof parsed.code === "string" ? ` (${parsed.code})` : ""}`;
  } catch {
    // Not JSON: shown as text below.
  }
  return text.slice(0, 200);
}
