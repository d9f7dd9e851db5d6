import { describe, expect, it } from "vitest";
import { formatAgo, formatBytes, formatCount, formatRate, formatSeconds } from "./format";

describe("formatBytes", () => {
  it("uses binary units with three significant digits", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(64 * 1024 * 1024)).toBe("64 MiB");
    expect(formatBytes(1.2345 * 1024 ** 3)).toBe("1.23 GiB");
    expect(formatBytes(123.4 * 1024)).toBe("123 KiB");
  });
  it("never shows 1024 of a unit", () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe("1 MiB");
  });
  it("handles negatives and non-numbers", () => {
    expect(formatBytes(-2048)).toBe("-2 KiB");
    expect(formatBytes(NaN)).toBe("—");
  });
});

describe("formatCount", () => {
  it("separates thousands and trims fractions", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(0.25)).toBe("0.25");
    expect(formatCount(2.5)).toBe("2.5");
    expect(formatCount(12.34)).toBe("12.3");
    expect(formatCount(1234.6)).toBe("1,235");
    expect(formatCount(-0.5)).toBe("-0.5");
    expect(formatCount(Infinity)).toBe("—");
  });
});

describe("formatRate", () => {
  it("says per second, in bytes or lines", () => {
    expect(formatRate(0, "lines")).toBe("0 lines/s");
    expect(formatRate(2.5, "lines")).toBe("2.5 lines/s");
    expect(formatRate(1200, "lines")).toBe("1,200 lines/s");
    expect(formatRate(1536, "bytes")).toBe("1.5 KiB/s");
    expect(formatRate(0.001, "lines")).toBe("<0.01 lines/s");
  });
});

describe("formatSeconds and formatAgo", () => {
  it("shows the two largest adjacent units", () => {
    expect(formatSeconds(0)).toBe("0s");
    expect(formatSeconds(45.9)).toBe("45s");
    expect(formatSeconds(312)).toBe("5m 12s");
    expect(formatSeconds(3 * 3600 + 4 * 60 + 5)).toBe("3h 4m");
    expect(formatSeconds(15 * 86400)).toBe("15d");
    expect(formatSeconds(2 * 86400 + 5)).toBe("2d");
    expect(formatSeconds(2 * 86400 + 3600)).toBe("2d 1h");
    expect(formatSeconds(-1)).toBe("—");
  });
  it("says how long ago", () => {
    expect(formatAgo(1000, 1000_500)).toBe("just now");
    expect(formatAgo(1000, 1012_000)).toBe("12s ago");
    expect(formatAgo(1000, 1185_000)).toBe("3m 5s ago");
  });
});
