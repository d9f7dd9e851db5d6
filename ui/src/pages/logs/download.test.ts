import { describe, expect, it } from "vitest";
import type { LogEntry } from "../../lib/entries";
import { toNdjson, toText } from "./download";

const e: LogEntry = {
  id: "x",
  tsNs: "1700000000123456789",
  tsMs: 1700000000123,
  line: 'a "quoted" line',
  stream: { app: "a" },
  metadata: { trace_id: "t" },
  parsed: {},
  level: "info",
};

describe("downloads", () => {
  it("writes one JSON object a line with the ns timestamp as text", () => {
    const out = toNdjson([e, e]);
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0])).toEqual({ timestamp: "1700000000123456789", labels: { app: "a" }, line: 'a "quoted" line', metadata: { trace_id: "t" }, parsed: {} });
  });
  it("writes the plain lines", () => {
    expect(toText([e])).toBe('a "quoted" line\n');
  });
});
