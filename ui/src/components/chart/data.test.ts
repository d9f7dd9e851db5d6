import { describe, expect, it } from "vitest";
import {
  align,
  bucketGrid,
  formatBytes,
  levelSeries,
  volumeQuery,
  formatCount,
  levelColour,
  levelRank,
  seriesFromMatrix,
  seriesName,
  stack,
  totals,
} from "./data";

describe("align and stack", () => {
  it("aligns series on the union of their timestamps with nulls for holes", () => {
    const a = align([
      { name: "a", labels: {}, points: [[1000, 1], [3000, 3]] },
      { name: "b", labels: {}, points: [[2000, 2], [3000, Number.NaN]] },
    ]);
    expect(a.xs).toEqual([1000, 2000, 3000]);
    expect(a.ys).toEqual([
      [1, null, 3],
      [null, 2, null],
    ]);
  });
  it("stacks running sums, a hole counting as zero", () => {
    expect(stack([[1, null, 3], [null, 2, 1], [1, 1, 1]])).toEqual([
      [1, 0, 3],
      [1, 2, 4],
      [2, 3, 5],
    ]);
    expect(totals([[1, null, 3], [null, 2, 1]])).toEqual([4, 3]);
  });
  it("builds a bucket grid in phase with the server's timestamps", () => {
    expect(bucketGrid(1000, 10_000, 3000, 7000)).toEqual([1000, 4000, 7000, 10_000]);
    expect(bucketGrid(1500, 10_000, 3000, 7000)).toEqual([4000, 7000, 10_000]);
    expect(bucketGrid(10, 5, 1, 7)).toEqual([]);
  });
});

describe("series names", () => {
  it("uses the value alone for one label and the label set otherwise", () => {
    expect(seriesName({ namespace: "api" })).toBe("api");
    expect(seriesName({ app: "x", pod: "p-1" })).toBe('{app="x", pod="p-1"}');
    expect(seriesName({ __name__: "up" })).toBe("{}");
  });
  it("reads a matrix in seconds as ms points", () => {
    const s = seriesFromMatrix([{ metric: { namespace: "db" }, values: [[1764765296.5, "12"]] }]);
    expect(s).toEqual([{ name: "db", labels: { namespace: "db" }, points: [[1764765296500, 12]] }]);
  });
});

describe("levels", () => {
  it("colours and orders detected_level values", () => {
    expect(levelColour("error")).toBe("--level-error");
    expect(levelColour("warning")).toBe("--level-warn");
    expect(levelColour("unknown")).toBe("--level-unknown");
    expect(levelColour("bogus")).toBe("--level-unknown");
    const sorted = ["info", "unknown", "error", "debug", "critical", "warn"].sort((a, b) => levelRank(a) - levelRank(b));
    expect(sorted).toEqual(["critical", "error", "warn", "info", "debug", "unknown"]);
  });
});

describe("formats", () => {
  it("formats counts and bytes", () => {
    expect(formatCount(999)).toBe("999");
    expect(formatCount(12_345)).toBe("12.3k");
    expect(formatCount(2_500_000)).toBe("2.5M");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 kB");
    expect(formatBytes(12_000_000)).toBe("12 MB");
  });
});

describe("volume histogram", () => {
  it("wraps the log query in a count by detected_level", () => {
    expect(volumeQuery(' {app="x"} |= "a" ', 30_000)).toBe(
      'sum by (detected_level) (count_over_time({app="x"} |= "a" | drop __error__ [30s]))',
    );
    expect(volumeQuery('{app="x"}', 3_600_000)).toBe('sum by (detected_level) (count_over_time({app="x"} [1h]))');
  });
  it("turns the matrix into zero-filled rows per level, most severe first", () => {
    const { xs, series } = levelSeries(
      [
        { metric: { detected_level: "info" }, values: [[10, "4"], [30, "1"]] },
        { metric: { detected_level: "error" }, values: [[20, "2"]] },
        { metric: {}, values: [[20, "7"]] },
      ],
      5_000,
      35_000,
      10_000,
    );
    expect(xs).toEqual([10_000, 20_000, 30_000]);
    expect(series.map((s) => s.name)).toEqual(["error", "info", "unknown"]);
    expect(series[0]).toEqual({ name: "error", color: "--level-error", values: [0, 2, 0] });
    expect(series[1].values).toEqual([4, 0, 1]);
    expect(series[2].values).toEqual([0, 7, 0]);
    expect(levelSeries([], 0, 10, 1)).toEqual({ xs: [], series: [] });
  });
});
