import { describe, expect, it } from "vitest";
import type { LogEntry } from "../../lib/entries";
import { newestErrors, rangeFromParam, streamLink, streamSelector, streamTitle, UNDETECTED_ERRORS_QUERY } from "./overview";

const entry = (tsNs: string, level: LogEntry["level"], line = ""): LogEntry => ({
  id: tsNs,
  tsNs,
  tsMs: Number(BigInt(tsNs) / 1_000_000n),
  line,
  stream: {},
  metadata: {},
  parsed: {},
  level,
});

describe("overview", () => {
  it("reads the range parameter, 1h by default", () => {
    expect(rangeFromParam("6h")).toBe("6h");
    expect(rangeFromParam("24h")).toBe("24h");
    expect(rangeFromParam("7d")).toBe("1h");
    expect(rangeFromParam(null)).toBe("1h");
  });
  it("links a line to its stream by namespace, pod and container", () => {
    const labels = { namespace: "db", pod: "postgres-0", container: "postgres", node: "node-b", app: "postgres" };
    expect(streamSelector(labels)).toBe('{namespace="db", pod="postgres-0", container="postgres"}');
    expect(streamSelector({ job: 'a"b', host: "h" })).toBe('{host="h", job="a\\"b"}');
    const url = new URL(streamLink(labels, "6h"), "http://x");
    expect(url.pathname).toBe("/logs");
    expect(url.searchParams.get("query")).toBe('{namespace="db", pod="postgres-0", container="postgres"}');
    expect(url.searchParams.get("from")).toBe("now-6h");
    expect(streamTitle(labels)).toBe("db / postgres-0");
    expect(streamTitle({ job: "x" })).toBe('{job="x"}');
  });
});

describe("recent errors", () => {
  it("merges both queries newest first, keeping only what reads as an error", () => {
    const detected = [entry("1796299130793691676", "error"), entry("1796299000000000000", "error")];
    const undetected = [entry("1796299130793691677", "error", "ERROR: deadlock"), entry("1796299100000000000", "info", "no err here")];
    expect(newestErrors(detected, undetected, 20).map((e) => e.tsNs)).toEqual([
      "1796299130793691677",
      "1796299130793691676",
      "1796299000000000000",
    ]);
    expect(newestErrors(detected, undetected, 1)).toHaveLength(1);
  });
  it("looks for the error words in lines with no detected level", () => {
    expect(UNDETECTED_ERRORS_QUERY).toBe('{namespace=~".+"} | detected_level="unknown" |~ "(?i)\\\\b(error|err|fatal|panic|critical)\\\\b"');
  });
});
