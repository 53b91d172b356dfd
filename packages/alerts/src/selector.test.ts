import { describe, expect, it } from "vitest";
import { matchesAll, parseMatcher, parseSelector, selectorLabels } from "./selector.js";

describe("parseSelector", () => {
  it("reads a metric with matchers of every operator", () => {
    const sel = parseSelector(
      `filesystem_used_percent{mountpoint=~"/|/data", fstype!="tmpfs", device!~'loop.*', host="a\\"b"}`,
    );
    expect(sel.metric).toBe("filesystem_used_percent");
    expect(sel.matchers.map((m) => [m.name, m.op, m.value])).toEqual([
      ["mountpoint", "=~", "/|/data"],
      ["fstype", "!=", "tmpfs"],
      ["device", "!~", "loop.*"],
      ["host", "=", 'a"b'],
    ]);
  });

  it("reads a bare metric and a bare label set", () => {
    expect(parseSelector("load1")).toEqual({ metric: "load1", matchers: [] });
    expect(parseSelector('{a="1"}').metric).toBeUndefined();
  });

  it.each(["load1{", 'load1{a="1"', "load1{a}", 'load1{a=="1"}', "1load", 'load1{a="1"} x', 'load1{a="1}'])(
    "rejects %s",
    (text) => expect(() => parseSelector(text)).toThrow(),
  );

  it("gives labels for = matchers only", () => {
    expect(selectorLabels(parseSelector('m{a="1",b="2"}'))).toEqual({ a: "1", b: "2" });
    expect(() => selectorLabels(parseSelector('m{a=~"1"}'))).toThrow(/needs "="/);
  });
});

describe("matchers", () => {
  it("anchors regexes and reads a missing label as empty", () => {
    expect(matchesAll({ cpu: "10" }, [parseMatcher('cpu=~"1"')])).toBe(false);
    expect(matchesAll({ cpu: "1" }, [parseMatcher('cpu=~"1"')])).toBe(true);
    expect(matchesAll({}, [parseMatcher('cpu=""')])).toBe(true);
    expect(matchesAll({}, [parseMatcher('cpu!~".+"')])).toBe(true);
    expect(matchesAll({ cpu: "x" }, [parseMatcher('cpu!="x"')])).toBe(false);
  });

  it("rejects a bad regex with its text", () => {
    expect(() => parseMatcher('a=~"(x"')).toThrow(/bad regex "\(x"/);
  });
});
