import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Catalog } from "@vigil/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashSecret } from "./secrets.js";
import { createApiToken, createEnrollToken } from "./token-admin.js";

let dir: string;
let catalog: Catalog;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-token-admin-"));
  catalog = Catalog.open(dir);
});
afterEach(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

describe("createApiToken", () => {
  it("returns a vgt_ secret and stores only its hash", () => {
    const token = createApiToken(catalog, "ci", "viewer", NOW);
    expect(token).toMatch(/^vgt_[A-Za-z0-9_-]{43}$/);
    expect(catalog.apiTokenForHash(hashSecret(token))).toMatchObject({
      name: "ci",
      role: "viewer",
      createdAt: NOW,
    });
    expect(catalog.apiTokenForHash(token)).toBe(undefined);
    expect(catalog.countApiTokens()).toBe(1);
  });
});

describe("createEnrollToken", () => {
  it("returns a vge_ secret valid for the ttl, usable once", () => {
    const { token, expiresAt } = createEnrollToken(catalog, "1h30m", NOW);
    expect(token).toMatch(/^vge_[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe(NOW + 5_400_000);
    expect(catalog.consumeEnrollToken(hashSecret(token), "web-1", expiresAt - 1)).toEqual({ ok: true });
    expect(catalog.consumeEnrollToken(hashSecret(token), "web-2", expiresAt - 1)).toEqual({
      ok: false,
      reason: "used",
    });
  });

  it("expires at now + ttl", () => {
    const { token, expiresAt } = createEnrollToken(catalog, "10m", NOW);
    expect(catalog.consumeEnrollToken(hashSecret(token), "web-1", expiresAt)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("refuses a bad ttl before storing anything", () => {
    expect(() => createEnrollToken(catalog, "1 hour", NOW)).toThrowError('"1 hour" is not a duration');
  });
});
