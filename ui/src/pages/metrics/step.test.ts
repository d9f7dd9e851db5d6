import { describe, expect, it } from "vitest";
import { autoStep, formatStep, MAX_POINTS, parseStep, StepError, stepProblem } from "./step";

describe("autoStep", () => {
  it("gives about one point per pixel, in whole seconds", () => {
    // 1h over 1200 px: 3 s.
    expect(autoStep(0, 3_600_000, 1200)).toBe(3000);
    // 24h over 1000 px: 86.4 s floors to 86 s.
    expect(autoStep(0, 86_400_000, 1000)).toBe(86_000);
  });
  it("never goes under a second", () => {
    expect(autoStep(0, 60_000, 1200)).toBe(1000);
    expect(autoStep(0, 0, 800)).toBe(1000);
  });
  it("a narrow chart (a phone) gets a larger step", () => {
    expect(autoStep(0, 3_600_000, 390)).toBe(9000);
    expect(autoStep(0, 3_600_000, 0)).toBe(3_600_000);
  });
});

describe("parseStep", () => {
  it("reads durations and seconds", () => {
    expect(parseStep("15s")).toBe(15_000);
    expect(parseStep("1m30s")).toBe(90_000);
    expect(parseStep("2h")).toBe(7_200_000);
    expect(parseStep("500ms")).toBe(500);
    expect(parseStep(" 30 ")).toBe(30_000);
    expect(parseStep("0.5")).toBe(500);
  });
  it("refuses what is not a step, with a message", () => {
    expect(() => parseStep("fast")).toThrow(StepError);
    expect(() => parseStep("fast")).toThrow(/not a step: "fast"/);
    expect(() => parseStep("0s")).toThrow(/more than zero/);
    expect(() => parseStep("")).toThrow(/empty/);
    expect(() => parseStep("-5s")).toThrow(/not a step/);
  });
});

describe("stepProblem", () => {
  it("says when a range has more points than Prometheus allows", () => {
    expect(stepProblem(0, 3_600_000, 1000)).toBeNull(); // 3601 points
    const msg = stepProblem(0, 86_400_000, 1000);
    expect(msg).toContain("86401 points");
    expect(msg).toContain(String(MAX_POINTS));
  });
});

describe("formatStep", () => {
  it("writes steps as Prometheus durations", () => {
    expect(formatStep(15_000)).toBe("15s");
    expect(formatStep(90_000)).toBe("1m30s");
    expect(formatStep(3_600_000)).toBe("1h");
    expect(formatStep(86_400_000 + 60_000)).toBe("1d1m");
    expect(formatStep(500)).toBe("500ms");
    expect(formatStep(1500)).toBe("1.5s");
  });
});
