import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** What one GET returned. */
export interface HttpGetResult {
  readonly status: number;
  readonly body: Buffer;
}

export interface HttpGetOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly bearer?: string | undefined;
  /** CA bundle for https:// (the agent's `tls.ca`); Node's public roots when undefined. */
  readonly ca?: Buffer | undefined;
  /** The whole request, connection to last byte. */
  readonly timeoutMs: number;
  /** A body longer than this fails the request instead of filling memory. */
  readonly maxBytes: number;
}

/**
 * GETs `url` (http or https) and resolves with the status and the whole body, whatever the status.
 * Rejects on a network error, the timeout, or a body over `maxBytes`. No redirects are followed.
 */
export function httpGet(url: URL, options: HttpGetOptions): Promise<HttpGetResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: "application/json, application/octet-stream" };
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(url, { method: "GET", headers, ca: options.ca, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let length = 0;
      res.on("data", (chunk: Buffer) => {
        length += chunk.length;
        if (length > options.maxBytes) {
          req.destroy(new Error(`GET ${url.pathname}: the answer is over ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`GET ${url.pathname}: no complete answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () =>
      req.destroy(new Error(`GET ${url.pathname}: timed out after ${options.timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.end();
  });
}
