import { describe, expect, it } from "vitest";
import { streamKey, type LogEntry } from "../../lib/entries";
import { appendPage, nextPageBounds } from "./paging";

const S = { app: "a" };
let seq = 0;
function entry(tsNs: string, line: string, dup = 0, stream = S): LogEntry {
  seq++;
  return {
    id: `${streamKey(stream)}|${tsNs}|${dup}`,
    tsNs,
    tsMs: Number(BigInt(tsNs) / 1_000_000n),
    line,
    stream,
    metadata: {},
    parsed: {},
    level: "unknown",
  };
}

describe("nextPageBounds", () => {
  const range = { startNs: "100", endNs: "900" };
  it("ends a backward page one nanosecond past the oldest shown entry", () => {
    expect(nextPageBounds([entry("800", "x"), entry("1700000000000000123", "y")], false, range)).toEqual({
      startNs: "100",
      endNs: "1700000000000000124",
    });
  });
  it("starts a forward page at the newest shown entry", () => {
    expect(nextPageBounds([entry("200", "x"), entry("300", "y")], true, range)).toEqual({ startNs: "300", endNs: "900" });
  });
  it("has nothing to page from without entries", () => {
    expect(nextPageBounds([], false, range)).toBeNull();
  });
});

describe("appendPage", () => {
  it("drops the boundary entries already shown and keeps the ones the limit had cut", () => {
    const shown = [entry("30", "c"), entry("20", "b1", 0)];
    // The older page repeats b1 at the boundary and brings b2, which shares its nanosecond.
    const page = [entry("20", "b1", 0), entry("20", "b2", 1), entry("10", "a")];
    const r = appendPage(shown, page);
    expect(r.entries.map((e) => e.line)).toEqual(["c", "b1", "b2", "a"]);
    expect(r.added).toBe(2);
    expect(new Set(r.entries.map((e) => e.id)).size).toBe(4);
  });

  it("counts equal lines: two shown, three on the page, one kept", () => {
    const shown = [entry("20", "same", 0), entry("20", "same", 1)];
    const page = [entry("20", "same", 0), entry("20", "same", 1), entry("20", "same", 2)];
    const r = appendPage(shown, page);
    expect(r.added).toBe(1);
    expect(r.entries).toHaveLength(3);
  });

  it("keeps an equal line from another stream", () => {
    const shown = [entry("20", "x")];
    const r = appendPage(shown, [entry("20", "x", 0, { app: "b" })]);
    expect(r.added).toBe(1);
  });

  it("gives a kept entry whose id is taken a fresh id", () => {
    // Same nanosecond, different line, but the server ordered the equals differently.
    const shown = [entry("20", "first", 0)];
    const r = appendPage(shown, [entry("20", "second", 0)]);
    expect(r.entries.map((e) => e.id)).toEqual(['app="a"|20|0', 'app="a"|20|0~1']);
  });

  it("takes the whole page when nothing is shown", () => {
    const page = [entry("5", "x")];
    expect(appendPage([], page)).toEqual({ entries: page, added: 1 });
  });
});
