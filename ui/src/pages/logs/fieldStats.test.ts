import { describe, expect, it } from "vitest";
import type { LogEntry } from "../../lib/entries";
import { fieldParser, fieldStats, fieldValue, formatShare, LineCache, type DetectedField } from "./fieldStats";

let n = 0;
const entry = (line: string, extra: Partial<LogEntry> = {}): LogEntry => ({
  id: String(++n),
  tsNs: "1",
  tsMs: 0,
  line,
  stream: {},
  metadata: {},
  parsed: {},
  level: "info",
  ...extra,
});
const field = (label: string, parsers: string[] | null): DetectedField => ({ label, type: "string", cardinality: 1, parsers });

describe("fieldParser", () => {
  it("uses json or logfmt from parsers, structured metadata without one", () => {
    expect(fieldParser(field("status", ["json"]))).toBe("json");
    expect(fieldParser(field("status", ["logfmt", "json"]))).toBe("json");
    expect(fieldParser(field("method", ["logfmt"]))).toBe("logfmt");
    expect(fieldParser(field("detected_level", null))).toBe("structured_metadata");
    expect(fieldParser(field("trace_id", []))).toBe("structured_metadata");
  });
});

describe("fieldValue", () => {
  const cache = new LineCache();
  it("reads parsed labels, then metadata, then the line as the parser would", () => {
    expect(fieldValue(entry("{}", { parsed: { status: "201" } }), field("status", ["json"]), cache)).toBe("201");
    expect(fieldValue(entry("x", { metadata: { detected_level: "warn" } }), field("detected_level", null), cache)).toBe("warn");
    expect(fieldValue(entry('{"status": 500, "req": {"path": "/a"}}'), field("status", ["json"]), cache)).toBe("500");
    expect(fieldValue(entry('{"req": {"path": "/a"}}'), field("req_path", ["json"]), cache)).toBe("/a");
    expect(fieldValue(entry('level=info status=304 msg="a b"'), field("msg", ["logfmt"]), cache)).toBe("a b");
    expect(fieldValue(entry("status=304"), field("status", ["json"]), cache)).toBeUndefined();
    expect(fieldValue(entry("plain"), field("detected_level", null), cache)).toBeUndefined();
  });
});

describe("fieldStats", () => {
  it("gives the top values with their share of the entries that have the field", () => {
    const entries = [
      entry('{"status": 200}'),
      entry('{"status": 200}'),
      entry('{"status": 500}'),
      entry('{"status": 404}'),
      entry('{"other": 1}'),
      entry("not json"),
    ];
    const s = fieldStats(entries, field("status", ["json"]), new LineCache(), 2);
    expect(s.withField).toBe(4);
    expect(s.distinct).toBe(3);
    expect(s.top).toEqual([
      { value: "200", count: 2, share: 0.5 },
      { value: "404", count: 1, share: 0.25 },
    ]);
    expect(fieldStats([], field("status", ["json"]), new LineCache())).toEqual({ top: [], withField: 0, distinct: 0 });
  });
  it("formats shares", () => {
    expect(formatShare(0.5)).toBe("50%");
    expect(formatShare(0.004)).toBe("<1%");
    expect(formatShare(1)).toBe("100%");
    expect(formatShare(0)).toBe("0%");
  });
});
