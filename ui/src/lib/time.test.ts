import { describe, expect, it } from "vitest";
import { formatDuration, parseTime, pickStep, resolveRange, TimeError, toRfc3339 } from "./time";

const NOW = Date.UTC(2026, 11, 3, 12, 34, 56, 789);

describe("parseTime", () => {
  it("reads now and offsets", () => {
    expect(parseTime("now", NOW)).toBe(NOW);
    expect(parseTime("now-15m", NOW)).toBe(NOW - 15 * 60_000);
    expect(parseTime("now+1h", NOW)).toBe(NOW + 3_600_000);
    expect(parseTime("now-7d", NOW)).toBe(NOW - 7 * 86_400_000);
  });
  it("rounds down with a unit", () => {
    expect(parseTime("now/m", NOW) % 60_000).toBe(0);
    expect(parseTime("now-1h/h", NOW)).toBeLessThanOrEqual(NOW - 3_600_000);
  });
  it("reads Unix seconds and milliseconds as Grafana does", () => {
    expect(parseTime("1764765296", NOW)).toBe(1764765296000);
    expect(parseTime("1764765296123", NOW)).toBe(1764765296123);
    expect(parseTime("1764765296.5", NOW)).toBe(1764765296500);
  });
  it("reads RFC 3339", () => {
    expect(parseTime("2026-12-03T12:00:00Z", NOW)).toBe(Date.UTC(2026, 11, 3, 12));
    expect(parseTime("2026-12-03T13:00:00+01:00", NOW)).toBe(Date.UTC(2026, 11, 3, 12));
  });
  it("refuses what it cannot read", () => {
    for (const bad of ["", "yesterday", "now-5", "now-5x", "2026-13-45", "12abc"]) {
      expect(() => parseTime(bad, NOW)).toThrow(TimeError);
    }
  });
});

describe("ranges and steps", () => {
  it("refuses a reversed range", () => {
    expect(() => resolveRange({ from: "now", to: "now-1h" }, NOW)).toThrow(TimeError);
    expect(resolveRange({ from: "now-1h", to: "now" }, NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
  });
  it("picks readable steps", () => {
    expect(pickStep(0, 3_600_000)).toBe(30_000);
    expect(pickStep(0, 300_000)).toBe(5000);
    expect(formatDuration(30_000)).toBe("30s");
    expect(formatDuration(300_000)).toBe("5m");
    expect(formatDuration(7_200_000)).toBe("2h");
  });
  it("writes RFC 3339 in UTC", () => {
    expect(toRfc3339(Date.UTC(2026, 11, 3, 12, 0, 0, 500))).toBe("2026-12-03T12:00:00Z");
  });
});
