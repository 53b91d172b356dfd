import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Catalog } from "@vigil/storage";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hashSecret, parseBearer } from "../auth/secrets.js";
import { AGENT_KEY_AUTH } from "./auth-hook.js";
import { HttpError } from "./http-error.js";

/** `GET` the manifest `{version, sha256, url, size}` of the agent bundle this server offers. */
export const AGENT_UPDATE_ROUTE = "/api/v1/agent/update";
/** `GET` the bundle's bytes. */
export const AGENT_BUNDLE_ROUTE = "/api/v1/agent/bundle";

/**
 * The bundle served when no path is configured: what `npm run build` writes in this checkout
 * (packages/agent/dist/vigil-agent.js), resolved from this file (packages/server/dist/http/).
 */
export const DEFAULT_AGENT_BUNDLE_PATH = fileURLToPath(
  new URL("../../../agent/dist/vigil-agent.js", import.meta.url),
);

/** `// vigil-agent 1.2.3`, the banner line packages/agent/scripts/bundle.mjs writes near the top. */
const VERSION_LINE_RE = /^\/\/ vigil-agent (\S+)$/m;
/** The banner is within the first lines; no need to scan megabytes for it. */
const VERSION_SCAN_BYTES = 1024;

export interface AgentUpdateDeps {
  readonly catalog: Catalog;
  /** The bundle file to offer (default `DEFAULT_AGENT_BUNDLE_PATH`). */
  readonly agentBundlePath?: string | undefined;
}

/** A bundle as read from disk, kept until the file's size, mtime or inode change. */
interface BundleInfo {
  readonly key: string;
  readonly bytes: Buffer;
  readonly sha256: string;
  readonly version: string;
}

/**
 * Registers the self-update routes agents call with `[update] enabled = true`: `GET /api/v1/agent/update`
 * answers `{version, sha256, url, size}` and `GET /api/v1/agent/bundle` the bytes, both authenticated
 * by an agent API key (`Authorization: Bearer vga_…`, checked hashed against the catalog like the
 * ingest stream does), not by an API token. A missing bundle is 404 `agent_bundle_missing`.
 * Both are marked `config.auth = "agent-key"`, so the API-token hook (auth-hook.ts) leaves them to
 * this check.
 */
export function registerAgentUpdateRoutes(app: FastifyInstance, deps: AgentUpdateDeps): void {
  const bundlePath = deps.agentBundlePath ?? DEFAULT_AGENT_BUNDLE_PATH;
  let cached: BundleInfo | undefined;

  const loadBundle = async (): Promise<BundleInfo> => {
    let key: string;
    try {
      const s = await stat(bundlePath);
      key = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
      throw new HttpError(
        404,
        "agent_bundle_missing",
        `no agent bundle to offer: ${bundlePath} cannot be read (${code}); run \`npm run build\` on the server`,
      );
    }
    if (cached?.key === key) return cached;
    const bytes = await readFile(bundlePath);
    const head = bytes.subarray(0, VERSION_SCAN_BYTES).toString("utf8");
    cached = {
      key,
      bytes,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      version: VERSION_LINE_RE.exec(head)?.[1] ?? "unknown",
    };
    return cached;
  };

  const answer = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const key = parseBearer(request.headers.authorization);
    if (key === undefined)
      throw new HttpError(
        401,
        "unauthorized",
        "missing agent API key: send `Authorization: Bearer <agent key>`",
      );
    const agentId = deps.catalog.agentForKeyHash(hashSecret(key));
    if (agentId === undefined) throw new HttpError(401, "unauthorized", "unknown or revoked agent API key");
    const bundle = await loadBundle();
    if (request.routeOptions.url === AGENT_UPDATE_ROUTE) {
      request.log.debug({ agentId, version: bundle.version }, "agent update manifest served");
      return reply.send({
        version: bundle.version,
        sha256: bundle.sha256,
        url: AGENT_BUNDLE_ROUTE,
        size: bundle.bytes.length,
      });
    }
    request.log.info({ agentId, version: bundle.version, sha256: bundle.sha256 }, "agent bundle served");
    return reply
      .header("content-type", "application/javascript")
      .header("x-vigil-sha256", bundle.sha256)
      .send(bundle.bytes);
  };

  // Agent keys, not API tokens: the API-token hook (auth-hook.ts) skips routes marked so.
  const options = { config: { auth: AGENT_KEY_AUTH } } as const;
  app.get(AGENT_UPDATE_ROUTE, options, answer);
  app.get(AGENT_BUNDLE_ROUTE, options, answer);
}
