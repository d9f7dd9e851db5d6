import { describe, expect, it } from "vitest";
import { offsets, visibleWindow } from "./virtual";

describe("offsets", () => {
  it("sums measured heights and estimates the rest", () => {
    expect(offsets([10, undefined, 30], 20)).toEqual([0, 10, 30, 60]);
  });
});

describe("visibleWindow", () => {
  const offs = offsets(new Array(5000).fill(20), 20);
  it("renders the viewport plus the margin only", () => {
    const w = visibleWindow(offs, 10_000, 400, 200);
    expect(w.first).toBe(490); // (10000 - 200) / 20
    expect(w.last).toBe(531); // (10000 + 400 + 200) / 20 + 1
    expect(w.top).toBe(9800);
    expect(w.total).toBe(100_000);
  });
  it("clamps at both ends", () => {
    expect(visibleWindow(offs, 0, 400, 200)).toMatchObject({ first: 0, last: 31, top: 0 });
    expect(visibleWindow(offs, 99_800, 400, 200)).toMatchObject({ first: 4980, last: 5000 });
  });
  it("follows variable heights", () => {
    const o = offsets([100, 10, 10, 10, 300, 10], 20);
    expect(visibleWindow(o, 125, 20, 0)).toMatchObject({ first: 3, last: 5, top: 120 });
  });
  it("is empty for no rows", () => {
    expect(visibleWindow([0], 0, 100, 10)).toEqual({ first: 0, last: 0, top: 0, total: 0 });
  });
});
