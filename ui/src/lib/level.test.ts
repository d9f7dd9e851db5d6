import { describe, expect, it } from "vitest";
import { detectLevel, normalizeLevel } from "./level";

describe("detectLevel", () => {
  it("prefers the server's detected_level, then level labels", () => {
    expect(detectLevel({ detected_level: "warn", level: "error" }, "ERROR boom")).toBe("warn");
    expect(detectLevel({ severity: "Warning" }, "no words")).toBe("warn");
  });
  it("reads JSON and logfmt level fields", () => {
    expect(detectLevel({}, '{"ts":1,"level":"error","msg":"x"}')).toBe("error");
    expect(detectLevel({}, 'ts=1 lvl=dbug msg="info is not the level"')).toBe("debug");
    expect(detectLevel({}, '{"severity": "CRITICAL"}')).toBe("critical");
  });
  it("falls back to keywords, then unknown", () => {
    expect(detectLevel({}, "2026-12-03 WARN disk almost full")).toBe("warn");
    expect(detectLevel({}, "FATAL: could not open file")).toBe("critical");
    expect(detectLevel({}, "GET /index.html 200")).toBe("unknown");
    expect(detectLevel({}, "terrorist")).toBe("unknown"); // words, not substrings
  });
  it("normalises level words", () => {
    expect(normalizeLevel("ERR")).toBe("error");
    expect(normalizeLevel("notice")).toBe("info");
    expect(normalizeLevel("loud")).toBe(null);
  });
});
