import { describe, expect, it } from "vitest";
import { logqlContext, selectorSoFar, valueLiteral } from "./logqlContext";

/** The context at the `|` marker (removed from the text). */
function at(marked: string) {
  const pos = marked.indexOf("¦");
  const text = marked.slice(0, pos) + marked.slice(pos + 1);
  return logqlContext(text, pos);
}

describe("logqlContext: inside a selector", () => {
  it("offers label names after { and after a comma", () => {
    expect(at("{¦")).toEqual({ kind: "labelName", from: 1, selector: undefined });
    expect(at("{¦}")).toEqual({ kind: "labelName", from: 1, selector: undefined });
    expect(at("{na¦")).toEqual({ kind: "labelName", from: 1, selector: undefined });
    expect(at('{namespace="api", ¦')).toEqual({ kind: "labelName", from: 18, selector: '{namespace="api"}' });
    expect(at('{namespace="api", a¦}')).toEqual({ kind: "labelName", from: 18, selector: '{namespace="api"}' });
  });

  it("offers label values after each matcher operator, quoted or not", () => {
    expect(at('{namespace="¦')).toEqual({
      kind: "labelValue",
      from: 12,
      replaceFrom: 11,
      to: 12,
      label: "namespace",
      op: "=",
      selector: undefined,
    });
    for (const op of ["=", "!=", "=~", "!~"]) {
      const ctx = at(`{app${op}¦`);
      expect(ctx).toMatchObject({ kind: "labelValue", label: "app", op, from: 4 + op.length });
      expect(at(`{app ${op} "ch¦`)).toMatchObject({ kind: "labelValue", label: "app", op });
    }
  });

  it("replaces the closing quote that bracket closing typed, and the rest of the word", () => {
    // `{namespace="` with closed brackets is `{namespace=""}`, the cursor between the quotes.
    expect(at('{namespace="¦"}')).toMatchObject({ replaceFrom: 11, from: 12, to: 13 });
    expect(at('{namespace="a¦pi"}')).toMatchObject({ replaceFrom: 11, from: 12, to: 16 });
    // An unquoted start: nothing to swallow after the cursor but the word.
    expect(at("{app=¦}")).toMatchObject({ replaceFrom: 5, from: 5, to: 5 });
    // The next matcher's quote is not this value's.
    expect(at('{app="¦, b="x"}')).toMatchObject({ replaceFrom: 5, to: 6 });
  });

  it("narrows values by the other complete matchers, not the one being typed", () => {
    expect(at('{namespace="api", app="¦"}')).toMatchObject({ label: "app", selector: '{namespace="api"}' });
    expect(at('{app="¦", namespace=~"a.*"}')).toMatchObject({ label: "app", selector: '{namespace=~"a.*"}' });
    expect(at('{namespace="api", app!~"x", level=¦')).toMatchObject({
      label: "level",
      selector: '{namespace="api", app!~"x"}',
    });
  });

  it("offers nothing after a complete matcher or inside a string that is no value", () => {
    expect(at('{app="x"¦')).toBeNull();
    expect(at('{app="x" ¦')).toBeNull();
    expect(at('{app="x"} |= "err¦')).toBeNull();
    expect(at('{app="x"} | line_format "{{.a¦')).toBeNull();
  });

  it("reads escaped quotes inside strings", () => {
    expect(at('{a="x\\"y", b="¦')).toMatchObject({ label: "b", selector: '{a="x\\"y"}' });
  });
});

describe("logqlContext: pipelines", () => {
  it("offers stages and line filters after a pipe", () => {
    expect(at('{app="checkout"} | ¦')).toEqual({ kind: "pipeline", from: 19, pipeFrom: 17 });
    expect(at('{app="checkout"} |¦')).toEqual({ kind: "pipeline", from: 18, pipeFrom: 17 });
    expect(at('{app="checkout"} | js¦')).toEqual({ kind: "pipeline", from: 19, pipeFrom: 17 });
    expect(at('{app="checkout"} |= "x" | json | ¦')).toMatchObject({ kind: "pipeline", pipeFrom: 31 });
    expect(at('sum(rate({app="x"} | ¦[5m]))')).toMatchObject({ kind: "pipeline", pipeFrom: 19 });
  });

  it("offers nothing where a string or a value goes", () => {
    expect(at('{app="x"} |= ¦')).toBeNull();
    expect(at('{app="x"} != ¦')).toBeNull();
    expect(at('{app="x"} | status > ¦')).toBeNull();
    expect(at('{app="x"} | json | a="b" or ¦')).toBeNull();
  });
});

describe("logqlContext: expressions", () => {
  it("offers functions and aggregations where an expression starts", () => {
    expect(at("¦")).toEqual({ kind: "expression", from: 0 });
    expect(at("co¦")).toEqual({ kind: "expression", from: 0 });
    expect(at("  ra¦")).toEqual({ kind: "expression", from: 2 });
    expect(at("sum(¦")).toEqual({ kind: "expression", from: 4 });
    expect(at("sum by (app) (¦")).toEqual({ kind: "expression", from: 14 });
    expect(at("topk(5, ¦")).toEqual({ kind: "expression", from: 8 });
    expect(at('sum(rate({a="b"}[5m])) / ¦')).toMatchObject({ kind: "expression" });
    expect(at('rate({a="b"}[5m]) > 0 and ¦')).toMatchObject({ kind: "expression" });
    expect(at("1 + ¦")).toMatchObject({ kind: "expression" });
  });

  it("offers nothing inside a range function, where a log range goes", () => {
    expect(at("rate(¦")).toBeNull();
    expect(at("quantile_over_time(0.99, ¦")).toBeNull();
    expect(at('{app="x"} ¦')).toBeNull();
  });

  it("offers by and without after an aggregation", () => {
    expect(at("sum ¦")).toEqual({ kind: "grouping", from: 4 });
    expect(at("sum b¦")).toEqual({ kind: "grouping", from: 4 });
    expect(at('sum(rate({a="b"}[5m])) ¦')).toMatchObject({ kind: "grouping" });
    expect(at('rate({a="b"}[5m]) ¦')).toBeNull();
  });

  it("offers label names inside grouping parentheses", () => {
    expect(at("sum by (¦")).toEqual({ kind: "groupingLabel", from: 8 });
    expect(at("sum without (app, ¦")).toEqual({ kind: "groupingLabel", from: 18 });
    expect(at("sum by (ap¦) (rate(")).toEqual({ kind: "groupingLabel", from: 8 });
  });

  it("offers nothing inside a comment", () => {
    expect(at('{app="x"} # {a=¦')).toBeNull();
    expect(at('{app="x"} # note\n| ¦')).toMatchObject({ kind: "pipeline" });
  });
});

describe("selectorSoFar", () => {
  it("joins the complete matchers of the selector at the brace", () => {
    expect(selectorSoFar('{a="1",b=~"2"}', 0, 14)).toBe('{a="1", b=~"2"}');
    expect(selectorSoFar('rate({a="1"}[5m]) / rate({b="2", c=', 25, 35)).toBe('{b="2"}');
    expect(selectorSoFar("{", 0, 1)).toBeUndefined();
  });
});

describe("valueLiteral", () => {
  it("quotes with Go escapes, and escapes regex metacharacters for regex matchers", () => {
    expect(valueLiteral('say "hi"\\', "=")).toBe('"say \\"hi\\"\\\\"');
    expect(valueLiteral("a.b(c)", "!=")).toBe('"a.b(c)"');
    expect(valueLiteral("a.b(c)", "=~")).toBe('"a\\\\.b\\\\(c\\\\)"');
    expect(valueLiteral("x+y|z", "!~")).toBe('"x\\\\+y\\\\|z"');
  });
});
