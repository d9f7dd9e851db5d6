import { describe, expect, it } from "vitest";
import { TimeError } from "../../lib/time";
import { readView, refreshMs } from "./view";

describe("readView", () => {
  it("fills the defaults", () => {
    expect(readView(new URLSearchParams(""))).toEqual({
      query: "",
      from: "now-1h",
      to: "now",
      forward: false,
      utc: false,
      wrap: false,
      stripAnsi: false,
      refresh: "",
    });
  });
  it("reads the short names", () => {
    const v = readView(new URLSearchParams("query=%7Ba%3D%22b%22%7D&from=now-6h&order=forward&utc=1&wrap=1&ansi=strip&refresh=10s"));
    expect(v).toMatchObject({ query: '{a="b"}', from: "now-6h", to: "now", forward: true, utc: true, wrap: true, stripAnsi: true, refresh: "10s" });
  });
});

describe("refreshMs", () => {
  it("reads durations and off", () => {
    expect(refreshMs("10s")).toBe(10_000);
    expect(refreshMs("1m")).toBe(60_000);
    expect(refreshMs("")).toBeNull();
    expect(refreshMs("off")).toBeNull();
  });
  it("refuses nonsense and intervals under a second", () => {
    expect(() => refreshMs("soon")).toThrow(TimeError);
    expect(() => refreshMs("500ms")).toThrow(/too short/);
  });
});
