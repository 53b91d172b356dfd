import { describe, expect, it } from "vitest";
import { generateSecret, hashSecret, parseBearer, SECRET_PREFIX } from "./secrets.js";

describe("hashSecret", () => {
  it("is SHA-256 in lowercase hex", () => {
    // FIPS 180-2 test vectors
    expect(hashSecret("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashSecret("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("hashes the UTF-8 bytes", () => {
    // "é" is c3 a9 in UTF-8
    expect(hashSecret("é")).toBe(hashSecret(Buffer.from([0xc3, 0xa9]).toString("utf8")));
    expect(hashSecret("é")).not.toBe(hashSecret("e"));
  });
});

describe("generateSecret", () => {
  it("is the prefix and 32 random bytes in base64url (43 characters)", () => {
    for (const prefix of Object.values(SECRET_PREFIX)) {
      const secret = generateSecret(prefix);
      expect(secret).toMatch(new RegExp(`^${prefix}[A-Za-z0-9_-]{43}$`));
      expect(Buffer.from(secret.slice(prefix.length), "base64url")).toHaveLength(32);
    }
  });

  it("never repeats", () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateSecret("x_")));
    expect(seen.size).toBe(200);
  });

  it("uses distinct prefixes per kind", () => {
    expect(SECRET_PREFIX).toEqual({ apiToken: "vgt_", agentKey: "vga_", enrollToken: "vge_" });
  });
});

describe("parseBearer", () => {
  it.each<[unknown, string | undefined]>([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["BEARER abc", "abc"],
    ["Bearer    vgt_x-y_z  ", "vgt_x-y_z"],
    ["Bearer\tabc", "abc"],
    ["Bearer", undefined],
    ["Bearer ", undefined],
    ["Bearer a b", undefined],
    ["Basic dXNlcjpwYXNz", undefined],
    [" Bearer abc", undefined],
    ["Bearerabc", undefined],
    ["abc", undefined],
    ["", undefined],
    [undefined, undefined],
    [42, undefined],
    [["Bearer abc"], undefined],
    [Buffer.from("Bearer abc"), undefined],
  ])("%j → %j", (value, expected) => {
    expect(parseBearer(value)).toBe(expected);
  });
});
