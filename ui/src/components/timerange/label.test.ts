import { describe, expect, it } from "vitest";
import { formatAbsolute, PRESETS, rangeInputError, rangeLabel, relativeLabel, timeInputError } from "./label";

describe("rangeLabel", () => {
  it("names the relative ranges to now", () => {
    expect(rangeLabel({ from: "now-15m", to: "now" })).toBe("Last 15 minutes");
    expect(rangeLabel({ from: "now-1h", to: "now" })).toBe("Last 1 hour");
    expect(rangeLabel({ from: "now-24h", to: "now" })).toBe("Last 24 hours");
    expect(rangeLabel({ from: "now-7d", to: "now" })).toBe("Last 7 days");
    expect(rangeLabel({ from: "now-30s", to: "now" })).toBe("Last 30 seconds");
  });
  it("shows other relative expressions as written", () => {
    expect(rangeLabel({ from: "now-1d/d", to: "now/d" })).toBe("now-1d/d to now/d");
    expect(rangeLabel({ from: "now-2h", to: "now-1h" })).toBe("now-2h to now-1h");
  });
  it("formats absolute times, dropping the end's date on the same day", () => {
    expect(rangeLabel({ from: "2026-12-03T10:00:00Z", to: "2026-12-03T11:30:00Z" }, true)).toBe(
      "2026-12-03 10:00:00 UTC to 11:30:00 UTC",
    );
    expect(rangeLabel({ from: "2026-12-02T23:00:00Z", to: "2026-12-03T01:00:00Z" }, true)).toBe(
      "2026-12-02 23:00:00 UTC to 2026-12-03 01:00:00 UTC",
    );
    expect(rangeLabel({ from: "1764756000", to: "now" }, true)).toBe("2025-12-03 10:00:00 UTC to now");
  });
  it("keeps text it cannot read", () => {
    expect(rangeLabel({ from: "yesterday", to: "now" })).toBe("yesterday to now");
  });
});

describe("presets and inputs", () => {
  it("has the six quick ranges", () => {
    expect(PRESETS.map((p) => p.label)).toEqual([
      "Last 5 minutes",
      "Last 15 minutes",
      "Last 1 hour",
      "Last 6 hours",
      "Last 24 hours",
      "Last 7 days",
    ]);
    expect(relativeLabel("now")).toBeNull();
  });
  it("formats local and UTC", () => {
    expect(formatAbsolute(Date.UTC(2026, 0, 2, 3, 4, 5), true)).toBe("2026-01-02 03:04:05 UTC");
    expect(formatAbsolute(Date.UTC(2026, 0, 2, 3, 4, 5))).toMatch(/^2026-01-0[12] \d\d:04:05$/);
  });
  it("validates the inputs with parseTime's message and their order", () => {
    expect(timeInputError("now-5m")).toBeNull();
    expect(timeInputError("soon")).toMatch(/not a time: "soon"/);
    expect(rangeInputError("now-1h", "now")).toBeNull();
    expect(rangeInputError("", "now")).toBe("From: empty time");
    expect(rangeInputError("now-1h", "later")).toMatch(/^To: not a time/);
    expect(rangeInputError("now", "now-1h")).toBe("From is after To");
  });
});
