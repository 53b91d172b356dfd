import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalLabels, type LabelMatcher, matchesLabels, parseLabelMatchers } from "./labels.js";

describe("canonicalLabels", () => {
  it("writes the entries sorted by name as JSON", () => {
    expect(canonicalLabels({ b: "2", a: "1", c: "" })).toBe('{"a":"1","b":"2","c":""}');
  });

  it("gives one text for one label set whatever the insertion order", () => {
    expect(canonicalLabels({ mode: "idle", cpu: "0" })).toBe(canonicalLabels({ cpu: "0", mode: "idle" }));
  });

  it("writes no labels as {}", () => {
    expect(canonicalLabels({})).toBe("{}");
  });

  it("escapes quotes and separators so different sets never collide", () => {
    expect(canonicalLabels({ a: 'x","b":"y' })).toBe('{"a":"x\\",\\"b\\":\\"y"}');
    expect(canonicalLabels({ a: 'x","b":"y' })).not.toBe(canonicalLabels({ a: "x", b: "y" }));
  });

  it("is injective and order-free over arbitrary label sets", () => {
    const labels = fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 4 });
    fc.assert(
      fc.property(labels, labels, (a, b) => {
        const same = JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
        expect(canonicalLabels(a) === canonicalLabels(b)).toBe(same);
        const reversed = Object.fromEntries(Object.entries(a).reverse());
        expect(canonicalLabels(reversed)).toBe(canonicalLabels(a));
      }),
    );
  });
});

describe("parseLabelMatchers", () => {
  it.each<[string, LabelMatcher[]]>([
    ["", []],
    ["   ", []],
    ["cpu=0", [{ name: "cpu", op: "=", value: "0" }]],
    ["cpu!=total", [{ name: "cpu", op: "!=", value: "total" }]],
    [
      "cpu=0,mode!=idle",
      [
        { name: "cpu", op: "=", value: "0" },
        { name: "mode", op: "!=", value: "idle" },
      ],
    ],
    [
      " cpu = 0 , mode != idle ",
      [
        { name: "cpu", op: "=", value: "0" },
        { name: "mode", op: "!=", value: "idle" },
      ],
    ],
    ["path=a=b", [{ name: "path", op: "=", value: "a=b" }]],
    ["q==", [{ name: "q", op: "=", value: "=" }]],
    ["expr=x!=y", [{ name: "expr", op: "=", value: "x!=y" }]],
    ["expr!=x=y", [{ name: "expr", op: "!=", value: "x=y" }]],
    ["device=", [{ name: "device", op: "=", value: "" }]],
    ["device!=", [{ name: "device", op: "!=", value: "" }]],
    ["_x9=v", [{ name: "_x9", op: "=", value: "v" }]],
  ])("reads %j", (text, matchers) => {
    expect(parseLabelMatchers(text)).toEqual(matchers);
  });

  it.each([
    ["cpu", 'label matcher "cpu" has no "=" or "!="'],
    ["cpu=0,mode", 'label matcher "mode" has no "=" or "!="'],
    ["cpu=0,,mode=idle", 'label matcher "" has no "=" or "!="'],
    ["=v", 'label matcher "=v" has an invalid label name ""'],
    ["!=v", 'label matcher "!=v" has an invalid label name ""'],
    ["0cpu=1", 'label matcher "0cpu=1" has an invalid label name "0cpu"'],
    ["cpu-id=1", 'label matcher "cpu-id=1" has an invalid label name "cpu-id"'],
    ["a!b=1", 'label matcher "a!b=1" has an invalid label name "a!b"'],
  ])("rejects %j naming the part", (text, message) => {
    expect(() => parseLabelMatchers(text)).toThrowError(new Error(message));
  });

  it("never throws anything but an Error, and every matcher it returns has a valid name", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          for (const m of parseLabelMatchers(text)) {
            expect(m.name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
            expect(["=", "!="]).toContain(m.op);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
    );
  });

  it("reads back matchers written as name=value / name!=value", () => {
    const matcher = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,5}$/),
      op: fc.constantFrom<"=" | "!=">("=", "!="),
      value: fc.stringMatching(/^[a-z0-9=!._-]{0,6}$/),
    });
    fc.assert(
      fc.property(fc.array(matcher, { minLength: 1, maxLength: 4 }), (matchers) => {
        const text = matchers.map((m) => `${m.name}${m.op}${m.value}`).join(",");
        expect(parseLabelMatchers(text)).toEqual(matchers);
      }),
    );
  });
});

describe("matchesLabels", () => {
  const labels = { cpu: "0", mode: "idle" };
  it.each<[string, LabelMatcher[], boolean]>([
    ["no matchers", [], true],
    ["equal", [{ name: "cpu", op: "=", value: "0" }], true],
    ["not equal to what it is", [{ name: "cpu", op: "=", value: "1" }], false],
    ["!= another value", [{ name: "cpu", op: "!=", value: "1" }], true],
    ["!= its own value", [{ name: "cpu", op: "!=", value: "0" }], false],
    ["missing label = empty", [{ name: "device", op: "=", value: "" }], true],
    ["missing label = something", [{ name: "device", op: "=", value: "sda" }], false],
    ["missing label != empty", [{ name: "device", op: "!=", value: "" }], false],
    ["missing label != something", [{ name: "device", op: "!=", value: "sda" }], true],
    [
      "all must hold (one fails)",
      [
        { name: "cpu", op: "=", value: "0" },
        { name: "mode", op: "=", value: "user" },
      ],
      false,
    ],
    [
      "all must hold (all hold)",
      [
        { name: "cpu", op: "=", value: "0" },
        { name: "mode", op: "!=", value: "user" },
      ],
      true,
    ],
  ])("%s", (_name, matchers, expected) => {
    expect(matchesLabels(labels, matchers)).toBe(expected);
  });
});
