import { createHash, randomBytes } from "node:crypto";

/** Prefixes say what a secret is when it turns up in a shell history or a ticket. */
export const SECRET_PREFIX = {
  apiToken: "vgt_",
  agentKey: "vga_",
  enrollToken: "vge_",
} as const;

/** A new random secret: prefix + 32 random bytes, base64url (256 bits of entropy). */
export function generateSecret(prefix: string): string {
  return prefix + randomBytes(32).toString("base64url");
}

/**
 * The at-rest form of a secret: SHA-256, hex. Our secrets are 256-bit random strings, so a fast
 * hash is enough (nothing to brute-force); passwords, which are not random, will use scrypt.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Reads `Bearer <secret>` from an authorization header or metadata value; undefined if absent or malformed. */
export function parseBearer(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}
