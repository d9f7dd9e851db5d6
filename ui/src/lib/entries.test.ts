import { describe, expect, it } from "vitest";
import { flattenStreams } from "./entries";

describe("flattenStreams", () => {
  const result = [
    { stream: { app: "a" }, values: [["1700000000000000002", "two", { detected_level: "error" }]] as [string, string, Record<string, string>][] },
    {
      stream: { app: "b" },
      values: [
        ["1700000000000000003", "three"],
        ["1700000000000000001", '{"level":"warn"}', { structuredMetadata: { trace_id: "t" }, parsed: { level: "warn" } }],
      ] as [string, string, Record<string, unknown>?][],
    },
  ];
  it("sorts newest first by nanoseconds across streams", () => {
    const e = flattenStreams(result as never);
    expect(e.map((x) => x.line)).toEqual(["three", "two", '{"level":"warn"}']);
    expect(e[1].level).toBe("error");
    expect(e[2].metadata).toEqual({ trace_id: "t" });
    expect(e[2].parsed).toEqual({ level: "warn" });
    expect(e[2].level).toBe("warn");
    expect(e[0].tsMs).toBe(1700000000000);
  });
  it("sorts oldest first when forward, with unique ids", () => {
    const e = flattenStreams(result as never, true);
    expect(e.map((x) => x.line)[0]).toBe('{"level":"warn"}');
    expect(new Set(e.map((x) => x.id)).size).toBe(3);
  });
});
