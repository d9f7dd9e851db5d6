import { describe, expect, it } from "vitest";
import { commitDrafts, readState, refreshPeriod, removeRow, setRowFlag, stateHref } from "./state";

const read = (search: string) => readState(new URLSearchParams(search));

describe("URL state", () => {
  it("reads several queries in order, with defaults for the rest", () => {
    const s = read("query=up&query=rate(x%5B5m%5D)&step=30s&table=1");
    expect(s.queries).toEqual(["up", "rate(x[5m])"]);
    expect(s.from).toBe("now-1h");
    expect(s.to).toBe("now");
    expect(s.step).toBe("30s");
    expect(s.table).toEqual([1]);
    expect(s.stacked).toEqual([]);
  });
  it("ignores row indexes that are not rows", () => {
    const s = read("query=up&table=0,3,x,-1&stacked=0,0");
    expect(s.table).toEqual([0]);
    expect(s.stacked).toEqual([0]);
  });
  it("round-trips, leaving the defaults out", () => {
    const s = read("query=up&query=sum(rate(a%5B1m%5D))&from=now-6h&stacked=1&refresh=10s");
    const url = stateHref(s);
    expect(url).toBe("/metrics?query=up&query=sum%28rate%28a%5B1m%5D%29%29&from=now-6h&refresh=10s&stacked=1");
    expect(readState(new URLSearchParams(url.split("?")[1]))).toEqual(s);
    expect(stateHref(read(""))).toBe("/metrics");
  });
  it("removing a row moves the later rows' choices up", () => {
    const s = read("query=a&query=b&query=c&table=0,2&stacked=1,2");
    const r = removeRow(s, 1);
    expect(r.queries).toEqual(["a", "c"]);
    expect(r.table).toEqual([0, 1]);
    expect(r.stacked).toEqual([1]);
  });
  it("Run drops empty drafts and keeps each kept row's choices", () => {
    const s = read("query=a&query=b&table=1");
    const r = commitDrafts(s, ["", " b2 ", "c"]);
    expect(r.queries).toEqual(["b2", "c"]);
    expect(r.table).toEqual([0]);
  });
  it("switches a row's flag", () => {
    expect(setRowFlag([0, 2], 1, true)).toEqual([0, 1, 2]);
    expect(setRowFlag([0, 2], 2, false)).toEqual([0]);
    expect(setRowFlag([0], 0, true)).toEqual([0]);
  });
  it("reads the refresh choices", () => {
    expect(refreshPeriod("5s")).toBe(5000);
    expect(refreshPeriod("1m")).toBe(60_000);
    expect(refreshPeriod("")).toBeNull();
    expect(refreshPeriod("soon")).toBeNull();
  });
});
