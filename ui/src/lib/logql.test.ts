import { describe, expect, it } from "vitest";
import {
  addFieldFilter,
  addMatcher,
  highlightRanges,
  isBareSelector,
  isMetricQuery,
  lineFilterTerms,
  selectorOf,
  unquote,
} from "./logql";

describe("addMatcher", () => {
  it("starts a selector from nothing", () => {
    expect(addMatcher("", "app", "api")).toBe('{app="api"}');
  });
  it("appends to the selector and keeps the pipeline", () => {
    expect(addMatcher('{ns="a"} |= "x"', "app", "api")).toBe('{ns="a", app="api"} |= "x"');
    expect(addMatcher('{ns="a"}', "app", "api", "!=")).toBe('{ns="a", app!="api"}');
  });
  it("replaces a matcher on the same label and operator", () => {
    expect(addMatcher('{app="web", ns="a"}', "app", "api")).toBe('{app="api", ns="a"}');
    expect(addMatcher('{app="web"}', "app", "api", "!=")).toBe('{app="web", app!="api"}');
  });
  it("edits the selector inside a metric query", () => {
    expect(addMatcher('sum(rate({ns="a"} |= "e" [1m]))', "pod", "p-1")).toBe('sum(rate({ns="a", pod="p-1"} |= "e" [1m]))');
  });
  it("escapes values", () => {
    expect(addMatcher("{}", "msg", 'say "hi"\\')).toBe('{msg="say \\"hi\\"\\\\"}');
  });
});

describe("addFieldFilter", () => {
  it("adds the parser when missing and reuses it when present", () => {
    expect(addFieldFilter('{app="x"}', "json", "status", "500")).toBe('{app="x"} | json | status="500"');
    expect(addFieldFilter('{app="x"} | json', "json", "status", "500", true)).toBe('{app="x"} | json | status!="500"');
    expect(addFieldFilter('{app="x"}', "logfmt", "level", "warn")).toBe('{app="x"} | logfmt | level="warn"');
  });
  it("needs no parser for structured metadata, and labels go in the selector", () => {
    expect(addFieldFilter('{app="x"}', "structured_metadata", "trace_id", "abc")).toBe('{app="x"} | trace_id="abc"');
    expect(addFieldFilter('{app="x"}', "label", "pod", "p")).toBe('{app="x", pod="p"}');
  });
  it("goes into the log pipeline of a metric query", () => {
    expect(addFieldFilter('rate({app="x"}[1m])', "json", "status", "500")).toBe('rate({app="x"} | json | status="500" [1m])');
  });
});

describe("query shape", () => {
  it("tells metric queries from log queries", () => {
    expect(isMetricQuery('sum by (pod) (rate({namespace="api"} |= "error" [1m]))')).toBe(true);
    expect(isMetricQuery('{namespace="api"} |= "error"')).toBe(false);
  });
  it("finds bare selectors", () => {
    expect(isBareSelector('{app="x", ns=~"a|b"}')).toBe(true);
    expect(isBareSelector('{app="x"} |= "e"')).toBe(false);
    expect(isBareSelector('{app="x"')).toBe(false);
    expect(selectorOf('{app="x"} | json')).toBe('{app="x"}');
    expect(selectorOf("")).toBe(null);
  });
});

describe("highlighting line filters", () => {
  it("collects positive filters only", () => {
    expect(lineFilterTerms('{a="b"} |= "err" != "skip" |~ `time(out)?` !~ "x"')).toEqual([
      { kind: "contains", text: "err" },
      { kind: "regex", text: "time(out)?" },
    ]);
  });
  it("marks and merges ranges", () => {
    const terms = lineFilterTerms('{a="b"} |= "err" |~ "(?i)ERROR"');
    expect(highlightRanges("an error, err", terms)).toEqual([
      [3, 8],
      [10, 13],
    ]);
    expect(highlightRanges("x", [{ kind: "regex", text: "(?P<bad" }])).toEqual([]);
  });
  it("reads both string forms", () => {
    expect(unquote('"a\\"b"')).toBe('a"b');
    expect(unquote("`a\\b`")).toBe("a\\b");
    expect(unquote('"unterminated')).toBe(null);
  });
});
