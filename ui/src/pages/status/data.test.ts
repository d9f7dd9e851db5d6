import { describe, expect, it } from "vitest";
import { filterSettings, rateSeries, rateSummary, type RatePoint, type SettingRow } from "./data";

const row = (name: string, value: string, help: string): SettingRow => ({
  name,
  value,
  default: value,
  flag: `--${name.replace(/_/g, "-")}`,
  env: `HERON_${name.toUpperCase()}`,
  help,
});

const rows = [
  row("retention", "15d", "drop data older than this"),
  row("retention_size", "0", "disk budget for stored blocks"),
  row("max_line_size", "256KiB", "longest log line accepted"),
];

describe("filterSettings", () => {
  it("keeps everything for an empty filter", () => {
    expect(filterSettings(rows, "  ")).toHaveLength(3);
  });
  it("matches name, value, flag, variable and help, in any case", () => {
    expect(filterSettings(rows, "RETENTION").map((r) => r.name)).toEqual(["retention", "retention_size"]);
    expect(filterSettings(rows, "256kib").map((r) => r.name)).toEqual(["max_line_size"]);
    expect(filterSettings(rows, "--max-line").map((r) => r.name)).toEqual(["max_line_size"]);
    expect(filterSettings(rows, "HERON_RETENTION_SIZE").map((r) => r.name)).toEqual(["retention_size"]);
    expect(filterSettings(rows, "disk budget").map((r) => r.name)).toEqual(["retention_size"]);
  });
  it("needs every word", () => {
    expect(filterSettings(rows, "retention longest")).toEqual([]);
  });
});

const rates: RatePoint[] = [
  { start: 100, end: 110, entriesPerSecond: 10, bytesPerSecond: 1000, samplesPerSecond: 0 },
  { start: 110, end: 120, entriesPerSecond: 20, bytesPerSecond: 3000, samplesPerSecond: 0 },
  { start: 120, end: 125, entriesPerSecond: 40, bytesPerSecond: 0, samplesPerSecond: 0 },
];

describe("rate series and summary", () => {
  it("puts each interval's rate at its end, in ms", () => {
    expect(rateSeries(rates, "entriesPerSecond", "lines/s").points).toEqual([
      [110_000, 10],
      [120_000, 20],
      [125_000, 40],
    ]);
  });
  it("averages by interval length", () => {
    expect(rateSummary(rates, "entriesPerSecond")).toEqual({ latest: 40, average: (100 + 200 + 200) / 25 });
    expect(rateSummary([], "bytesPerSecond")).toBeNull();
  });
});
