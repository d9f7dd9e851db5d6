import { highlightTree, tagHighlighter, tags as t } from "@lezer/highlight";
import { describe, expect, it } from "vitest";
import { logqlLanguage } from "./logql";

const kinds = tagHighlighter([
  { tag: t.keyword, class: "keyword" },
  { tag: t.function(t.name), class: "function" },
  { tag: t.labelName, class: "label" },
  { tag: t.string, class: "string" },
  { tag: [t.number, t.unit], class: "number" },
  { tag: t.operator, class: "operator" },
  { tag: t.controlOperator, class: "pipe" },
  { tag: t.lineComment, class: "comment" },
]);

function highlighted(query: string): [string, string][] {
  const out: [string, string][] = [];
  highlightTree(logqlLanguage.parser.parse(query), kinds, (from, to, cls) => out.push([query.slice(from, to), cls]));
  return out;
}

describe("LogQL highlighting", () => {
  it("tags every kind of token of a metric query", () => {
    const q = 'sum by (app) (count_over_time({app=~"check.*"} |= "x" | json | status >= 500 | line_format "{{.msg}}" [5m])) # note';
    expect(highlighted(q)).toEqual([
      ["sum", "function"],
      ["by", "keyword"],
      ["app", "label"],
      ["count_over_time", "function"],
      ["app", "label"],
      ["=~", "operator"],
      ['"check.*"', "string"],
      ["|=", "pipe"],
      ['"x"', "string"],
      ["|", "pipe"],
      ["json", "keyword"],
      ["|", "pipe"],
      ["status", "label"],
      [">=", "operator"],
      ["500", "number"],
      ["|", "pipe"],
      ["line_format", "keyword"],
      ['"{{.msg}}"', "string"],
      ["5m", "number"],
      ["# note", "comment"],
    ]);
  });

  it("tags line filter operators, unwrap and conversions", () => {
    expect(highlighted('rate_counter({a="b"} != "y" |~ "z" !~ "w" | logfmt | unwrap duration(d) [1m])')).toEqual([
      ["rate_counter", "function"],
      ["a", "label"],
      ["=", "operator"],
      ['"b"', "string"],
      ["!=", "pipe"],
      ['"y"', "string"],
      ["|~", "pipe"],
      ['"z"', "string"],
      ["!~", "pipe"],
      ['"w"', "string"],
      ["|", "pipe"],
      ["logfmt", "keyword"],
      ["|", "pipe"],
      ["unwrap", "keyword"],
      ["duration", "function"],
      ["d", "label"],
      ["1m", "number"],
    ]);
  });
});
