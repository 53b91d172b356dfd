import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatHostPort, type HostPort, isLoopbackHost, parseHostPort } from "./listen-address.js";

describe("parseHostPort", () => {
  it.each<[string, HostPort]>([
    ["127.0.0.1:9800", { host: "127.0.0.1", port: 9800 }],
    ["localhost:9801", { host: "localhost", port: 9801 }],
    ["0.0.0.0:0", { host: "0.0.0.0", port: 0 }],
    ["metrics.example.com:443", { host: "metrics.example.com", port: 443 }],
    ["[::1]:9800", { host: "::1", port: 9800 }],
    ["[::]:65535", { host: "::", port: 65535 }],
    ["[fe80::1:2]:1", { host: "fe80::1:2", port: 1 }],
    ["[::ffff:192.0.2.1]:80", { host: "::ffff:192.0.2.1", port: 80 }],
    ["  127.0.0.1:9800  ", { host: "127.0.0.1", port: 9800 }],
    ["host:00080", { host: "host", port: 80 }],
  ])("reads %j", (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });

  it.each([
    "",
    "127.0.0.1",
    ":9800",
    "127.0.0.1:",
    "127.0.0.1:65536",
    "127.0.0.1:99999",
    "127.0.0.1:123456",
    "127.0.0.1:-1",
    "127.0.0.1:80a",
    "::1:9800",
    "[::1]",
    "[::1]9800",
    "[host]:80",
    "[]:80",
    "my host:80",
    "a:b:80",
  ])("rejects %j with an Error that quotes it", (text) => {
    expect(() => parseHostPort(text)).toThrowError(
      `"${text}" is not a host:port address (e.g. "127.0.0.1:9800" or "[::1]:9800")`,
    );
  });

  it("round-trips with formatHostPort for IPv4 names and IPv6 addresses", () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
        expect(parseHostPort(formatHostPort({ host: h, port }))).toEqual({ host: h, port });
      }),
    );
  });
});

describe("formatHostPort", () => {
  it.each<[HostPort, string]>([
    [{ host: "127.0.0.1", port: 9800 }, "127.0.0.1:9800"],
    [{ host: "localhost", port: 0 }, "localhost:0"],
    [{ host: "::1", port: 9801 }, "[::1]:9801"],
    [{ host: "fe80::1", port: 443 }, "[fe80::1]:443"],
  ])("writes %j as %j", (hp, text) => {
    expect(formatHostPort(hp)).toBe(text);
  });
});

describe("isLoopbackHost", () => {
  it.each([
    ["localhost", true],
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.1", false],
    ["128.0.0.1", false],
    ["127.0.0.1.example.com", false],
    ["localhost.example.com", false],
    ["1127.0.0.1", false],
    ["127.999.1.1", false],
    ["127.255.255.255", true],
    ["", false],
  ])("%j → %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
