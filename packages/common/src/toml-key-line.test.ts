import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findTomlKeyLine } from "./toml-key-line.js";

const SOURCE = [
  /*  1 */ "# vigil agent config",
  /*  2 */ 'agent_id = "web-1"   # the host',
  /*  3 */ 'note = "a # is not a comment"',
  /*  4 */ "",
  /*  5 */ "[server]",
  /*  6 */ 'data_dir = "./data"',
  /*  7 */ "  http_listen='127.0.0.1:9800'",
  /*  8 */ "",
  /*  9 */ "[collectors.cpu]",
  /* 10 */ 'interval = "1s"',
  /* 11 */ "[ collectors . memory ]",
  /* 12 */ "enabled = false",
  /* 13 */ 'collectors.disk.interval = "5s"',
  /* 14 */ "[labels]",
  /* 15 */ '"dc.name" = "eu"',
  /* 16 */ "'rack' = 'r1'",
  /* 17 */ "[stream]",
  /* 18 */ "a.b.c = 1",
  /* 19 */ "ports = [1, 2,",
  /* 20 */ "  3]",
  /* 21 */ 'inline = { x = 1, y = "=" }',
].join("\n");

describe("findTomlKeyLine", () => {
  it.each<[(string | number)[], number | undefined]>([
    [["agent_id"], 2],
    [["note"], 3],
    [["server"], 5],
    [["server", "data_dir"], 6],
    [["server", "http_listen"], 7],
    // not written: the nearest enclosing header
    [["server", "grpc_listen"], 5],
    [["collectors", "cpu"], 9],
    [["collectors", "cpu", "interval"], 10],
    [["collectors", "memory", "enabled"], 12],
    [["collectors", "memory", "interval"], 11],
    // dotted key on a line of its own, relative to the current table
    [["collectors", "memory", "collectors", "disk", "interval"], 13],
    [["collectors", "disk", "interval"], undefined],
    [["labels", "dc.name"], 15],
    [["labels", "rack"], 16],
    [["labels", "dc"], 14],
    [["stream", "a", "b", "c"], 18],
    // a dotted key defines its prefixes
    [["stream", "a", "b"], 18],
    [["stream", "a"], 18],
    [["stream", "ports", 1], 19],
    [["stream", "inline", "y"], 21],
    // nothing on the path is written
    [["log_level"], undefined],
    [["paths", "procfs"], undefined],
    [[], undefined],
  ])("%j → line %s", (path, line) => {
    expect(findTomlKeyLine(SOURCE, path)).toBe(line);
  });

  it("finds a dotted key written at the top level before any header", () => {
    const source = 'a = 1\ncollectors.disk.interval = "5s"\n[x]\ny = 2\n';
    expect(findTomlKeyLine(source, ["collectors", "disk", "interval"])).toBe(2);
    expect(findTomlKeyLine(source, ["collectors", "disk"])).toBe(2);
    expect(findTomlKeyLine(source, ["collectors"])).toBe(2);
    expect(findTomlKeyLine(source, ["collectors", "cpu"])).toBe(undefined);
  });

  it("ignores '#' inside single- and double-quoted strings but not after them", () => {
    const source = [
      'a = "x#y" # comment with key = 1',
      "b = 'x#y'",
      'c = "esc \\" # still in the string"',
      "# d = 1",
      "e = 1 # d = 2",
    ].join("\n");
    expect(findTomlKeyLine(source, ["a"])).toBe(1);
    expect(findTomlKeyLine(source, ["b"])).toBe(2);
    expect(findTomlKeyLine(source, ["c"])).toBe(3);
    expect(findTomlKeyLine(source, ["d"])).toBe(undefined);
    expect(findTomlKeyLine(source, ["key"])).toBe(undefined);
    expect(findTomlKeyLine(source, ["e"])).toBe(5);
  });

  it("does not take a header inside a comment or an '=' inside a quoted key", () => {
    const source = ["# [server]", '"a=b" = 1', "[real]", "x = 1"].join("\n");
    expect(findTomlKeyLine(source, ["server"])).toBe(undefined);
    expect(findTomlKeyLine(source, ["a=b"])).toBe(2);
    expect(findTomlKeyLine(source, ["a"])).toBe(undefined);
    expect(findTomlKeyLine(source, ["real", "x"])).toBe(4);
  });

  it("does not read keys or headers inside multi-line strings", () => {
    const source = [
      /* 1 */ 'body = """',
      /* 2 */ "[server]",
      /* 3 */ "port = 1",
      /* 4 */ '"""',
      /* 5 */ "raw = '''x = 1",
      /* 6 */ "[fake]'''",
      /* 7 */ 'one = """[not] = a header"""',
      /* 8 */ "[server]",
      /* 9 */ "port = 2",
    ].join("\n");
    expect(findTomlKeyLine(source, ["body"])).toBe(1);
    expect(findTomlKeyLine(source, ["server", "port"])).toBe(9);
    expect(findTomlKeyLine(source, ["raw"])).toBe(5);
    expect(findTomlKeyLine(source, ["x"])).toBe(undefined);
    expect(findTomlKeyLine(source, ["fake"])).toBe(undefined);
    expect(findTomlKeyLine(source, ["one"])).toBe(7);
  });

  it("reads CRLF line ends", () => {
    expect(findTomlKeyLine("a = 1\r\n[s]\r\nb = 2\r\n", ["s", "b"])).toBe(3);
  });

  describe("arrays of tables", () => {
    const source = [
      /*  1 */ "[alert]",
      /*  2 */ 'default_for = "1m"',
      /*  3 */ "[[alert.rules]]",
      /*  4 */ 'name = "cpu"',
      /*  5 */ 'expr = "cpu_usage_percent > 90"',
      /*  6 */ "",
      /*  7 */ "[[alert.rules]]",
      /*  8 */ 'name = "mem"',
      /*  9 */ "for = 5",
      /* 10 */ "[alert.rules.labels]",
      /* 11 */ 'team = "ops"',
      /* 12 */ "[[alert.rules.channels]]",
      /* 13 */ 'kind = "email"',
      /* 14 */ "[[alert.rules]]",
      /* 15 */ 'name = "disk"',
      /* 16 */ "[[alert.rules.channels]]",
      /* 17 */ 'kind = "slack"',
    ].join("\n");

    it.each<[(string | number)[], number | undefined]>([
      [["alert", "default_for"], 2],
      [["alert", "rules"], 3],
      [["alert", "rules", 0], 3],
      [["alert", "rules", 0, "name"], 4],
      [["alert", "rules", 0, "expr"], 5],
      [["alert", "rules", 1], 7],
      [["alert", "rules", 1, "name"], 8],
      [["alert", "rules", 1, "for"], 9],
      // not written in the second entry: its header, not the first entry's key
      [["alert", "rules", 1, "expr"], 7],
      [["alert", "rules", 1, "labels", "team"], 11],
      [["alert", "rules", 1, "channels", 0, "kind"], 13],
      [["alert", "rules", 2, "name"], 15],
      // nested arrays restart their count under each entry of the outer array
      [["alert", "rules", 2, "channels", 0, "kind"], 17],
      [["alert", "rules", 2, "labels"], 14],
      // an index past the last entry: the array's first header
      [["alert", "rules", 7, "name"], 3],
    ])("%j → line %s", (path, line) => {
      expect(findTomlKeyLine(source, path)).toBe(line);
    });
  });

  it("never throws anything but an Error on arbitrary text and paths", () => {
    const segment = fc.oneof(fc.string({ maxLength: 6 }), fc.nat({ max: 3 }));
    fc.assert(
      fc.property(fc.string(), fc.array(segment, { maxLength: 4 }), (source, path) => {
        try {
          const line = findTomlKeyLine(source, path);
          if (line !== undefined) {
            expect(Number.isInteger(line) && line >= 1).toBe(true);
            expect(line).toBeLessThanOrEqual(source.split(/\r?\n/).length);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
    );
  });

  it("never throws on TOML-looking text", () => {
    const line = fc.oneof(
      fc.constantFrom("[a]", "[[a]]", "[a.b]", "[[a.b]]", '["q.k"]', "[", "]]", "[[", "#", "=", '"', "'"),
      fc
        .tuple(fc.constantFrom("a", "b", '"a.b"', "a.b", "'c'", ""), fc.string({ maxLength: 5 }))
        .map(([k, v]) => `${k} = ${v}`),
    );
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 12 }),
        fc.array(fc.oneof(fc.constantFrom("a", "b", "a.b", "c"), fc.nat({ max: 2 })), { maxLength: 4 }),
        (lines, path) => {
          const found = findTomlKeyLine(lines.join("\n"), path);
          expect(found === undefined || (found >= 1 && found <= lines.length)).toBe(true);
        },
      ),
    );
  });
});
