import { parseDuration } from "@vigil/common";
import type { Catalog, TokenRole } from "@vigil/storage";
import { generateSecret, hashSecret, SECRET_PREFIX } from "./secrets.js";

/** Creates an API token; returns the secret, which exists nowhere else afterwards (only its hash is stored). */
export function createApiToken(catalog: Catalog, name: string, role: TokenRole, now: number): string {
  const token = generateSecret(SECRET_PREFIX.apiToken);
  catalog.createApiToken({ name, role, hash: hashSecret(token), createdAt: now });
  return token;
}

export const DEFAULT_ENROLL_TTL = "1h";

/** Creates a one-time enrolment token valid for `ttl` (e.g. "1h"); returns the secret and its expiry. */
export function createEnrollToken(
  catalog: Catalog,
  ttl: string,
  now: number,
): { token: string; expiresAt: number } {
  const ttlMs = parseDuration(ttl);
  const token = generateSecret(SECRET_PREFIX.enrollToken);
  const expiresAt = now + ttlMs;
  catalog.createEnrollToken({ hash: hashSecret(token), createdAt: now, expiresAt });
  return { token, expiresAt };
}
